"""Describe what actually happened to make a variant, as a ManifestSpec to sign.

Nothing here is a fixed claim: the digital source type and the actions follow the
backend that made the base clip (a photo moved by a virtual camera is an edit of a
capture; a diffusion clip is trained algorithmic media).
"""
from __future__ import annotations

import json

from foundation.primitives import SourceType, canonical_json, pipeline_version, variant_source_type
from generation.plan import VariantPlan
from foundation.records import BaseClip, RenderedVariant
from provenance.inputs import InputProvenance
from provenance.spec import Action, Ingredient, ManifestSpec, ModelIngredient

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
AGENT = "Tessera"


def source_type_of(base: BaseClip, photo: InputProvenance | None,
                   music: InputProvenance | None = None) -> SourceType | None:
    """The variant's IPTC digital source type (foundation.primitives.variant_source_type decides it), from
    the backend and, for a camera move, the photo's own provenance (provenance.inputs), and the music
    bed's where there is one: None when unknown."""
    params = json.loads(base.params_json)
    bed = SourceType(music.source_type) if music is not None and music.source_type else None
    if base.backend == "motion":
        return variant_source_type("motion", photo=SourceType(photo.source_type) if photo and photo.source_type else None,
                                   music=bed, has_music=music is not None)
    return variant_source_type(base.backend, task=params.get("task"), photo=None,
                               photo_composited=bool(params.get("composited_photo", False)),
                               music=bed, has_music=music is not None)


# Backends whose clips show photoreal objects or scenes: the camera move shows the product photo's own
# pixels, the diffusion backend's prompt templates ask for a realistic product shot. A stylised backend
# (cartoon, motion graphics) would be False here.
PHOTOREAL_BACKENDS = frozenset({"motion", "diffusers"})


def photoreal(base: BaseClip) -> bool:
    """The base clip shows photoreal objects or scenes (a content fact the region rules use)."""
    return base.backend in PHOTOREAL_BACKENDS


def photo_used(base: BaseClip) -> bool:
    """The product photo is an input of this clip: moved by the camera, or an image-to-video condition."""
    return base.backend == "motion" or json.loads(base.params_json).get("image_sha256") is not None


def variant_manifest(plan: VariantPlan, base: BaseClip, rendered: RenderedVariant,
                     extra_actions: tuple[Action, ...] = (),
                     extra_assertions: tuple[tuple[str, str], ...] = (),
                     photo: InputProvenance | None = None, logo: InputProvenance | None = None,
                     music: InputProvenance | None = None) -> ManifestSpec:
    """photo: the product photo's own provenance (provenance.inputs), read before rendering; needed
    whenever the photo is an input (photo_used). logo: the brand logo's, when the brand kit names one: it is
    described in com.tessera.variant, not an ingredient, since its pixels are not in the frames. music: the
    music bed's, when the brand kit names one: it is the audio track, a componentOf ingredient (c2pa.placed)."""
    spec = plan.spec
    base_params = json.loads(base.params_json)
    localize = Action("c2pa.edited", AGENT, parameters_json=canonical_json({
        "description": "localized copy, price and labels composited; reframed to aspect ratio",
        "locale": spec.locale, "aspect": spec.aspect, "size": {"width": spec.width, "height": spec.height},
    }))
    encode = Action("c2pa.transcoded", AGENT, parameters_json=rendered.encoder_json)
    if photo_used(base) and photo is None:
        raise ValueError(f"{plan.output_path.name}: the photo is an input but its provenance was not read")
    if (plan.brand.music is None) != (music is None):
        raise ValueError(f"{plan.output_path.name}: the music bed and its provenance go together")
    source_type = source_type_of(base, photo, music)
    dst = source_type.value if source_type else None     # None: a photo of unknown provenance, no claim

    # 1. What the base clip is, from the backend that made it; the photo is an ingredient only where it was
    #    an input: opened (motion), or the conditioning image of an image-to-video model (inputTo).
    models: tuple[ModelIngredient, ...] = ()
    ingredients: tuple[Ingredient, ...] = ()
    first: tuple[Action, ...]
    if base.backend == "motion":
        opened = Ingredient(path=plan.product.photo, title=plan.product.photo.name, relationship="parentOf")
        ingredients = (opened,)
        first = (
            Action("c2pa.opened", AGENT, parameters_json=canonical_json({"source": opened.title})),
            Action("c2pa.edited", AGENT, parameters_json=canonical_json(
                {"description": "virtual camera motion over the product photo", **_motion_readable(base_params)})),
        )
    else:
        task, image = base_params.get("task"), base_params.get("image_sha256")
        if (task == "i2v") != (image is not None):
            raise ValueError(f"{plan.output_path.name}: task {task!r} with conditioning image {image!r}")
        if image is not None:
            ingredients = (Ingredient(path=plan.product.photo, title=plan.product.photo.name, relationship="inputTo"),)
        first = (Action("c2pa.created", AGENT, digital_source_type=dst,
                        parameters_json=_without_local_paths(base.params_json)),)
        models = (_model_ingredient(base_params),)

    # The music bed is the audio track: placed as it is, trimmed, faded and levelled by the encode.
    placed: tuple[Action, ...] = ()
    if music is not None and plan.brand.music is not None:
        ingredients += (Ingredient(path=plan.brand.music, title=plan.brand.music.name, relationship="componentOf"),)
        placed = (Action("c2pa.placed", AGENT, parameters_json=canonical_json(
            {"description": "music bed placed as the audio track (trimmed, faded, loudness-normalised)"})),)

    # 2. Where it came from in the catalog, so an auditor can trace the row.
    variant = {
        "asset_id": spec.asset_id, "variant_key": plan.variant_key, "pipeline": pipeline_version(),
        "sku": spec.sku, "locale": spec.locale, "aspect": spec.aspect,
        "rule_profile": plan.locale.rule_profile, "base_clip_key": base.key, "backend": base.backend,
        "catalog_rows": {"products": plan.product.row, "locales": plan.locale.row, "copy": plan.copy_row},
    }
    if photo is not None:
        # The photo's provenance with the source of each claim: its own manifest/XMP, or the catalog's columns.
        variant["photo"] = {"file": plan.product.photo.name, **photo.to_dict(),
                            "owner": plan.product.photo_owner or None, "licence": plan.product.photo_licence or None}
    if logo is not None and plan.brand.logo is not None:
        variant["brand_logo"] = {"file": plan.brand.logo.name, **logo.to_dict(), "owner": plan.brand.logo_owner or None,
                                 "licence": plan.brand.logo_licence or None, "in_frames": False}
    if music is not None and plan.brand.music is not None:
        variant["music"] = {"file": plan.brand.music.name, **music.to_dict(), "owner": plan.brand.music_owner or None,
                            "licence": plan.brand.music_licence or None}
    return ManifestSpec(
        title=plan.output_path.name, asset_id=spec.asset_id, digital_source_type=dst,
        actions=first + placed + (localize,) + extra_actions + (encode,),
        ingredients=ingredients,
        assertions=(("com.tessera.variant", canonical_json(variant)),) + extra_assertions,
        models=models,
    )


def _model_ingredient(params: dict) -> ModelIngredient:
    """The model as the diffusion backend recorded it: hub id at its pinned revision, or a local folder as its
    pipeline class and the content hash of its files (model_index.json and weights), never its path."""
    model = params["model"]
    if model["source"] == "hub":
        return ModelIngredient(title=model["id"], version=model["revision"])
    digest = model["folder_sha256"]
    return ModelIngredient(title=f"{params.get('pipeline_class') or 'diffusers pipeline'} (local model folder "
                                 f"sha256:{digest[:16]})", version=f"sha256:{digest}")


def generative_system(base: BaseClip, photo: InputProvenance | None) -> tuple[str, str] | None:
    """(name, version) of what made the pixels, for the latent disclosure: the diffusion model; for a camera
    move over an AI-made photo, what the photo's own provenance says (only its origin is known)."""
    if base.backend != "motion":
        m = _model_ingredient(json.loads(base.params_json))
        return m.title, m.version
    if photo is not None and photo.is_ai:
        return (f"unknown generator of the product photo (its {photo.origin} provenance, signer "
                f"{photo.signer or 'none'})", "unknown")
    return None


# Local paths are details of the machine that rendered: the backend keeps them, the manifest does not.
_LOCAL_PATH_PARAMS = ("model_path", "lora_path", "photo")


def _without_local_paths(params_json: str) -> str:
    params = json.loads(params_json)
    return canonical_json({k: v for k, v in params.items() if k not in _LOCAL_PATH_PARAMS})


def _motion_readable(params: dict) -> dict:
    """The motion backend's parameters with its pan points as {"x", "y"}: an array of numbers does not read
    back from a signed manifest (provenance/manifest.py); the base clip's own params_json, its content
    key, keeps the arrays."""
    motion = params.get("motion")
    if not isinstance(motion, dict):
        return params
    points = {k: {"x": v[0], "y": v[1]} for k, v in motion.items()
              if k in ("pan_start", "pan_end") and isinstance(v, list) and len(v) == 2}
    return {**params, "motion": {**motion, **points}}
