"""Build a C2PA manifest from a ManifestSpec and sign a media file with it (fail closed).

What the manifest holds:
- claim_generator_info: Tessera and its installed version;
- c2pa.actions.v2: the spec's actions in order; the first must be c2pa.created or
  c2pa.opened and carries the spec's digitalSourceType (short IPTC names such as
  "trainedAlgorithmicMedia" are expanded to the IPTC IRI; a different type set on that
  action is a contradiction and refused). A c2pa.opened action is linked to the
  parentOf ingredient and a c2pa.placed action to the componentOf ingredients, unless
  its parameters already name `ingredientIds`; the C2PA-reserved parameters
  `ingredient`/`ingredients` (hashed links that c2pa writes) are refused;
- one ingredient per spec ingredient, hashed from its file; an image ingredient carries a JPEG
  thumbnail (long side at most 1024 px, never enlarged) made once per file version;
- com.tessera.variant {"asset_id": ...} plus the spec's extra assertions.

Every value must read back as written. c2pa-python 0.38 reads a stored array of numbers back
wrong: integers as base64 of each element modulo 256 ([1280, 720] reads back "ANA=";
contentauth/c2pa-rs#2570), floats as "" (an independent reader, c2pa-ts, reads both right: the
stored CBOR is fine, c2pa's JSON of it is not). So an array of numbers anywhere in an assertion or
action parameter is refused (SigningError naming its path): write sizes as {"width": w, "height": h},
points as {"x", "y"}, boxes as named fields. The one exception is a field the C2PA specification
itself declares a byte string (BYTE_STRING_FIELDS: the soft-binding `pad`), given as byte values;
c2pa-python reads it back as the base64 of those bytes.

The signed file is written to a temp file beside dst, read back and validated, and
only then renamed onto dst: a failure at any step raises SigningError and leaves dst
untouched.
"""
from __future__ import annotations

import functools
import io
import json
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import c2pa
from PIL import Image, ImageOps

from foundation.primitives import IPTC_SOURCE_TYPES, atomic_path
from provenance.reader import VARIANT_LABEL, c2pa_settings, detect_mime, read_c2pa
from provenance.spec import Action, Credentials, Ingredient, ManifestSpec, SignedManifest

__all__ = ["SigningError", "sign_file", "manifest_definition"]

FIRST_ACTIONS = ("c2pa.created", "c2pa.opened")
RELATIONSHIPS = ("parentOf", "componentOf", "inputTo")
# Actions that c2pa links to ingredients of one relationship when the caller did not.
LINKED_RELATIONSHIP = {"c2pa.opened": "parentOf", "c2pa.placed": "componentOf"}
THUMBNAIL_LONG_SIDE = 1024   # c2pa's own size for ingredient thumbnails
# (assertion label, key) of the fields C2PA defines as CBOR byte strings: given as a list of byte values,
# read back as their base64 text. Any other array of numbers would read back wrong (see the module docstring).
BYTE_STRING_FIELDS = {("c2pa.soft-binding", "pad"), ("c2pa.soft-binding", "pad2")}


class SigningError(RuntimeError):
    """A file could not be signed; nothing was written to the destination."""


def sign_file(src: Path, dst: Path, spec: ManifestSpec, creds: Credentials, *,
              mime: str = "video/mp4") -> SignedManifest:
    """Sign src with a manifest built from spec and write the signed copy to dst atomically."""
    # 1. Check inputs and build the definition before touching the destination.
    if creds.not_after < datetime.now(timezone.utc):
        raise SigningError(f"cannot sign {src}: signing certificate expired on {creds.not_after:%Y-%m-%d}")
    if not src.is_file():
        raise SigningError(f"cannot sign {src}: no such file")
    definition = manifest_definition(spec, mime)

    # 2. Sign into a temp file beside dst, so the final rename stays on one file system.
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dst) as tmp:
            _sign(src, tmp, definition, spec.ingredients, creds, mime)
            # 3. Read the result back: only a valid manifest carrying our asset id may ship, and
            # Trusted when we have anchors (a chain that does not reach them is a misconfiguration).
            report = read_c2pa(tmp, creds.anchors_pem)
            accepted = ("Trusted",) if creds.anchors_pem else ("Trusted", "Valid")
            if report.state not in accepted or report.manifest_json is None or report.active_label is None:
                raise SigningError(f"cannot sign {src}: signed copy reads {report.state} "
                                   f"{', '.join(report.codes) or report.error or ''}".rstrip())
            if report.asset_id != spec.asset_id:
                raise SigningError(f"cannot sign {src}: signed copy carries asset id {report.asset_id!r}, "
                                   f"expected {spec.asset_id!r}")
    except OSError as e:
        raise SigningError(f"cannot sign {src}: cannot write {dst} ({e.strerror or e})") from e
    return SignedManifest(label=report.active_label, manifest_json=report.manifest_json)


def manifest_definition(spec: ManifestSpec, mime: str) -> dict[str, Any]:
    """The c2pa manifest definition for spec; raises SigningError naming the bad value."""
    if not spec.asset_id:
        raise SigningError(f"manifest {spec.title!r}: asset_id is empty")
    if not spec.actions or spec.actions[0].action not in FIRST_ACTIONS:
        first = spec.actions[0].action if spec.actions else None
        raise SigningError(f"manifest {spec.title!r}: first action must be one of {FIRST_ACTIONS}, got {first!r}")
    for ing in spec.ingredients:
        if ing.relationship not in RELATIONSHIPS:
            raise SigningError(f"ingredient {ing.path}: relationship {ing.relationship!r} not in {RELATIONSHIPS}")
    if sum(ing.relationship == "parentOf" for ing in spec.ingredients) > 1:
        raise SigningError(f"manifest {spec.title!r}: more than one parentOf ingredient")

    actions = [_action_json(a, spec, is_first=(i == 0)) for i, a in enumerate(spec.actions)]
    assertions: list[dict[str, Any]] = [{"label": "c2pa.actions.v2", "data": {"actions": actions}}]
    variant: dict[str, Any] = {"asset_id": spec.asset_id}
    for label, text in spec.assertions:
        data = _parse_json(text, f"assertion {label!r}")
        if label.startswith("c2pa.actions"):
            raise SigningError(f"assertion {label!r}: actions come from spec.actions, not extra assertions")
        if label == VARIANT_LABEL:
            if not isinstance(data, dict) or data.get("asset_id", spec.asset_id) != spec.asset_id:
                raise SigningError(f"assertion {label!r}: must be an object whose asset_id is {spec.asset_id!r}")
            variant = {**data, "asset_id": spec.asset_id}
            continue
        _refuse_number_arrays(data, label, label)
        assertions.append({"label": label, "data": data})
    _refuse_number_arrays(variant, VARIANT_LABEL, VARIANT_LABEL)
    assertions.append({"label": VARIANT_LABEL, "data": variant})
    definition: dict[str, Any] = {
        "claim_generator_info": [{"name": "Tessera", "version": _tessera_version()}],
        "title": spec.title,
        "format": mime,
        "assertions": assertions,
    }
    if spec.models:
        # Models have no media file: c2pa takes them as definition-level ingredients (inputTo).
        definition["ingredients"] = [
            {"title": m.title, "format": "application/octet-stream", "relationship": "inputTo",
             "label": f"model-{i}", "data_types": [{"type": m.data_type, "version": m.version}]}
            for i, m in enumerate(spec.models)
        ]
    return definition


def _action_json(action: Action, spec: ManifestSpec, *, is_first: bool) -> dict[str, Any]:
    params = _parse_json(action.parameters_json, f"action {action.action!r} parameters")
    if not isinstance(params, dict):
        raise SigningError(f"action {action.action!r}: parameters must be a JSON object, got {action.parameters_json!r}")
    reserved = {"ingredient", "ingredients"} & params.keys()
    if reserved:
        raise SigningError(f"action {action.action!r}: parameters.{reserved.pop()} is reserved by C2PA for hashed "
                           f"links that c2pa writes; link ingredients with 'ingredientIds' or leave it to sign_file")
    out: dict[str, Any] = {"action": action.action, "softwareAgent": {"name": action.software_agent}}
    source_type = action.digital_source_type
    if is_first and spec.digital_source_type is None:
        if source_type is not None:
            raise SigningError(f"action {action.action!r}: digital source type {source_type!r} on a manifest "
                               f"whose source type is unknown")
        if action.action == "c2pa.created":
            raise SigningError(f"manifest {spec.title!r}: a c2pa.created action needs a digital source type")
    elif is_first:
        spec_type = _source_type_iri(spec.digital_source_type)
        if source_type is not None and _source_type_iri(source_type) != spec_type:
            raise SigningError(f"action {action.action!r}: digital source type {source_type!r} "
                               f"contradicts the manifest's {spec.digital_source_type!r}")
        source_type = spec.digital_source_type
    if source_type:
        out["digitalSourceType"] = _source_type_iri(source_type)
    relationship = LINKED_RELATIONSHIP.get(action.action)
    if relationship and "ingredientIds" not in params:
        ids = [_ingredient_label(i) for i, ing in enumerate(spec.ingredients) if ing.relationship == relationship]
        if not ids:
            raise SigningError(f"action {action.action!r} needs a {relationship} ingredient; none given")
        params = {**params, "ingredientIds": ids}
    _refuse_number_arrays(params, "c2pa.actions.v2", f"action {action.action!r} parameters")
    if params:
        out["parameters"] = params
    return out


def _refuse_number_arrays(value: Any, label: str, where: str, key: str | None = None) -> None:
    """Raise SigningError naming the first array holding a number in value (c2pa-python reads it back
    as base64 or ""), unless it is a byte-string field of label (BYTE_STRING_FIELDS) of byte values."""
    if isinstance(value, dict):
        for k, v in value.items():
            _refuse_number_arrays(v, label, f"{where}.{k}", str(k))
    elif isinstance(value, list):
        if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            if (label, key) in BYTE_STRING_FIELDS and all(isinstance(v, int) and 0 <= v < 256 for v in value):
                return
            raise SigningError(f"{where} = {value!r}: an array of numbers does not read back from a C2PA "
                               f"manifest (c2pa-python reads it as base64 or \"\"); write an object with named "
                               f"fields or strings")
        for i, v in enumerate(value):
            _refuse_number_arrays(v, label, f"{where}[{i}]")


def _sign(src: Path, out: Path, definition: dict[str, Any], ingredients: tuple[Ingredient, ...],
          creds: Credentials, mime: str) -> None:
    # c2pa would make each image ingredient's thumbnail itself, for every variant anew and enlarged
    # to 1024 px (31 ms and ~100 KB for a 600 px product photo): ours is made once per photo.
    settings = {**c2pa_settings(creds.anchors_pem), "builder": {"thumbnail": {"enabled": False}}}
    try:
        with c2pa.Context.from_dict(settings) as ctx, c2pa.Builder(json.dumps(definition), ctx) as builder:
            for i, ing in enumerate(ingredients):
                ing_mime = detect_mime(ing.path)
                if ing_mime is None:
                    raise SigningError(f"ingredient {ing.path}: unsupported media type")
                ing_json = {"title": ing.title, "relationship": ing.relationship, "label": _ingredient_label(i)}
                if ing_mime.startswith("image/"):
                    st = ing.path.stat()
                    thumb = _thumbnail(str(ing.path.resolve()), st.st_size, st.st_mtime_ns)
                    if thumb is not None:
                        name = f"{_ingredient_label(i)}-thumbnail.jpg"
                        builder.add_resource(name, io.BytesIO(thumb))
                        ing_json["thumbnail"] = {"format": "image/jpeg", "identifier": name}
                with open(ing.path, "rb") as stream:
                    builder.add_ingredient(json.dumps(ing_json), ing_mime, stream)
            info = c2pa.C2paSignerInfo(creds.alg, creds.cert_chain_pem, creds.private_key_pem, creds.tsa_url)
            with c2pa.Signer.from_info(info) as signer, open(src, "rb") as source, open(out, "w+b") as dest:
                builder.sign(signer, mime, source, dest)
    except c2pa.C2paError as e:
        raise SigningError(f"cannot sign {src}: {e}") from e
    except OSError as e:
        raise SigningError(f"cannot sign {src}: {e.filename or ''} {e.strerror or e}".strip()) from e


@functools.lru_cache(maxsize=64)
def _thumbnail(path: str, size: int, mtime_ns: int) -> bytes | None:
    """A JPEG thumbnail of an image file, keyed by its size and mtime (a replaced photo gets a new
    one); None when Pillow cannot read it (the ingredient is still signed, without a thumbnail)."""
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            im.thumbnail((THUMBNAIL_LONG_SIDE, THUMBNAIL_LONG_SIDE))
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                im = Image.new("RGB", im.size, "white")          # JPEG has no alpha: flatten on white
                im.paste(rgba, mask=rgba.getchannel("A"))
            out = io.BytesIO()
            im.convert("RGB").save(out, "JPEG", quality=85)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return out.getvalue()


def _ingredient_label(index: int) -> str:
    return f"ingredient-{index}"


def _source_type_iri(value: str) -> str:
    return value if "://" in value else IPTC_SOURCE_TYPES + value


def _parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SigningError(f"{what}: invalid JSON ({e.msg} at {e.pos}): {text[:80]!r}") from e


def _tessera_version() -> str:
    try:
        return version("tessera")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.1.0"
