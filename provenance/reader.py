"""Read and validate the C2PA manifest of any media file, offline, one file at a time.

`read_c2pa` never raises for a bad file: a file without a manifest reads as
"absent", a file c2pa cannot parse (hostile, truncated, unsupported type) reads as
"error" with the reason in `error`. Only programming errors propagate.

Status codes (`C2paReport.codes`) are the codes that decide the validation state:
the active manifest's failure codes (`validation_results.activeManifest.failure`),
sorted and de-duplicated. `signingCredential.untrusted` is kept only when it is the
sole failure (it is what makes a file "Valid" instead of "Trusted"); next to a hard
failure it is dropped, because the file is "Invalid" whoever signed it. This is
exactly what the C2PA reference expectations in
tests/fixtures/c2pa-external/EXPECTED.csv list. Informational codes
(`signingCredential.ocsp.skipped`, `assertion.bmffHash.additionalExclusionsPresent`)
are never included. The full c2pa JSON stays available in `manifest_json`; the active manifest's
assertions are parsed once into the report (`C2paReport.assertion(label)`, `C2paReport.actions`).

Media types are detected from the leading bytes, then the extension. A file that is
not a media type c2pa reads (e.g. a .txt) reads as "error: unsupported media type":
it is not evidence of missing credentials, it is a file the audit cannot judge.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import c2pa

from provenance.spec import C2paReport, ReadAction, ReadIngredient

__all__ = ["VARIANT_LABEL", "asset_id_of", "c2pa_settings", "detect_mime", "read_c2pa"]

# Our assertion carrying the asset id; written by manifest.sign_file.
VARIANT_LABEL = "com.tessera.variant"
UNTRUSTED = "signingCredential.untrusted"
# EKUs allowed on signing certificates: c2pa-rs's own default list, spelled out because
# setting trust_config replaces it. emailProtection, documentSigning, timeStamping,
# OCSPSigning, Microsoft document signing, C2PA claim signing.
ALLOWED_EKUS = (
    "1.3.6.1.5.5.7.3.4",
    "1.3.6.1.5.5.7.3.36",
    "1.3.6.1.5.5.7.3.8",
    "1.3.6.1.5.5.7.3.9",
    "1.3.6.1.4.1.311.76.59.1.9",
    "1.3.6.1.4.1.62558.2.1",
)
_EXTENSIONS = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".avi": "video/x-msvideo",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".gif": "image/gif", ".tif": "image/tiff", ".tiff": "image/tiff", ".dng": "image/dng",
    ".heic": "image/heic", ".heif": "image/heif", ".avif": "image/avif",
    ".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4",
}
MEDIA_EXTENSIONS = frozenset(_EXTENSIONS)


def c2pa_settings(anchors_pem: bytes | None, ekus: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Settings for offline validation; with anchors, certificates chaining to them (with one of
    `ekus`, default ALLOWED_EKUS) read Trusted."""
    settings: dict[str, Any] = {
        "version": 1,
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    }
    if anchors_pem:
        settings["trust"] = {
            "user_anchors": anchors_pem.decode("ascii"),
            "trust_config": "\n".join(ekus or ALLOWED_EKUS) + "\n",
        }
    return settings


def read_c2pa(path: Path, anchors_pem: bytes | None, ekus: tuple[str, ...] | None = None) -> C2paReport:
    """Validate the C2PA manifest store of one file; bad files become "absent" or "error" reports."""
    try:
        mime = detect_mime(path)
    except OSError as e:
        return C2paReport(state="error", codes=(), error=f"cannot read {path}: {e.strerror or e}")
    if mime is None:
        return C2paReport(state="error", codes=(), error=f"unsupported media type: {path.name}")
    try:
        with c2pa.Context.from_dict(c2pa_settings(anchors_pem, ekus)) as ctx, open(path, "rb") as stream:
            with c2pa.Reader(mime, stream, None, ctx) as reader:
                manifest_json = reader.json()
    except c2pa.C2paError.ManifestNotFound:
        return C2paReport(state="absent", codes=())
    except c2pa.C2paError as e:
        return C2paReport(state="error", codes=(), error=f"{path.name}: {e}")
    except OSError as e:
        return C2paReport(state="error", codes=(), error=f"cannot read {path}: {e.strerror or e}")
    return report_from_json(manifest_json)


def report_from_json(manifest_json: str) -> C2paReport:
    """Turn the reader's JSON of a manifest store into a report: the one place the store is parsed."""
    store = json.loads(manifest_json)
    label = store.get("active_manifest")
    active = store.get("manifests", {}).get(label) if label else None
    if active is None:
        return C2paReport(state="error", codes=(), manifest_json=manifest_json,
                          error="manifest store has no active manifest")
    info = active.get("signature_info") or {}
    report = C2paReport(
        state=store.get("validation_state") or "error",
        codes=_deciding_codes(store),
        active_label=label,
        signer=info.get("issuer") or info.get("common_name"),
        asset_id=asset_id_of(active),
        manifest_json=manifest_json,
        assertions=tuple((str(a.get("label", "")), a.get("data")) for a in active.get("assertions", [])),
        signed_at=str(info["time"]) if info.get("time") else None,
        ingredients=tuple(ReadIngredient(title=str(i.get("title", "")), relationship=str(i.get("relationship", "")),
                                         has_manifest=bool(i.get("active_manifest")))
                          for i in active.get("ingredients", []) if isinstance(i, dict)),
    )
    return replace(report, digital_source_type=_digital_source_type(report.actions))


def asset_id_of(manifest: dict[str, Any]) -> str | None:
    """Our asset id from a manifest (reader JSON) carrying a com.tessera.variant assertion."""
    for assertion in manifest.get("assertions", []):
        if assertion.get("label") == VARIANT_LABEL and isinstance(assertion.get("data"), dict):
            value = assertion["data"].get("asset_id")
            return value if isinstance(value, str) else None
    return None


def detect_mime(path: Path) -> str | None:
    """MIME type from the leading bytes (extension as a tie-breaker); None when c2pa cannot read it."""
    with open(path, "rb") as f:
        head = f.read(16)
    ext = _EXTENSIONS.get(path.suffix.lower())
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"heic", b"heix", b"mif1", b"avif"):
            return ext if ext in ("image/heic", "image/heif", "image/avif") else "image/heif"
        return ext if ext in ("video/mp4", "video/quicktime", "audio/mp4") else "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):  # classic QuickTime without ftyp
        return ext if ext in ("video/mp4", "video/quicktime") else "video/quicktime"
    if head.startswith(b"RIFF"):
        return {b"AVI ": "video/x-msvideo", b"WEBP": "image/webp", b"WAVE": "audio/wav"}.get(head[8:12])
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return ext if ext == "image/dng" else "image/tiff"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return None


def _deciding_codes(store: dict[str, Any]) -> tuple[str, ...]:
    results = store.get("validation_results")
    if results is not None:
        statuses = (results.get("activeManifest") or {}).get("failure") or []
    else:  # older stores carry only the flat validation_status list
        statuses = store.get("validation_status") or []
    codes = {status["code"] for status in statuses if "code" in status}
    if codes - {UNTRUSTED}:
        codes.discard(UNTRUSTED)
    return tuple(sorted(codes))


def _digital_source_type(actions: tuple[ReadAction, ...]) -> str | None:
    """digitalSourceType of the created/opened action: what the asset says it is."""
    return next((a.digital_source_type for a in actions
                 if a.action in ("c2pa.created", "c2pa.opened") and a.digital_source_type), None)
