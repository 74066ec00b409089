"""The provenance of an input file (a product photo, the brand logo), read from the file itself before rendering.

Where each claim comes from, strongest first:
1. the file's own C2PA manifest: validated; its digital source type is the photo's. A manifest that fails
   validation (Invalid, or unreadable) stops the product with InputProvenanceError, unless the catalog
   says to treat the file as unknown (photo_source, or brand.json's logo_source, "unknown");
2. an IPTC `Iptc4xmpExt:DigitalSourceType` in the file's XMP (what Firefly, Midjourney, Imagen and
   most generators write), where there is no manifest;
3. the catalog's photo_source column (brand.json's logo_source for the logo);
4. none of these: unknown provenance (source_type None). Never assumed to be a camera capture.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from foundation.primitives import SourceType

__all__ = ["InputProvenance", "InputProvenanceError", "input_provenance", "xmp_source_type"]

VALID_STATES = ("Trusted", "Valid")
# The three forms XMP writers use for the property: attribute, element text, rdf:resource.
_XMP_DST = re.compile(
    rb"Iptc4xmpExt:DigitalSourceType(?:\s*=\s*[\"']([^\"']+)[\"']"
    rb"|\s*>\s*([^<\s]+)\s*<"
    rb"|\s+rdf:resource\s*=\s*[\"']([^\"']+)[\"'])")
_XMP_MAX_SCAN = 16 * 1024 * 1024


class InputProvenanceError(ValueError):
    """An input's own provenance could not be trusted (its manifest fails validation)."""


@dataclass(frozen=True)
class InputProvenance:
    path: Path
    source_type: str | None          # IPTC IRI, or None: unknown provenance
    origin: str                      # "c2pa", "xmp", "catalog" or "unknown": where source_type comes from
    c2pa_state: str                  # the file's own manifest: "Trusted", "Valid", "absent", ... ("absent": none)
    signer: str | None = None        # the signer of its own manifest, when it has one
    note: str = ""                   # why it is unknown, when it is

    @property
    def is_ai(self) -> bool:
        return self.source_type is not None and SourceType(self.source_type).is_ai

    def to_dict(self) -> dict:
        return {"source_type": self.source_type, "origin": self.origin, "c2pa_state": self.c2pa_state,
                "signer": self.signer, "note": self.note}


def input_provenance(path: Path, anchors_pem: bytes | None, *, catalog_source: str | None = None,
                     catalog_field: str = "photo_source") -> InputProvenance:
    """What the file at path says it is (module docstring for the order). catalog_source: what the catalog
    says of it (an IPTC IRI, "unknown", or None when the catalog says nothing), in catalog_field (named in
    the error: "photo_source" for a product photo, "logo_source" of brand.json for the logo)."""
    path = Path(path)
    st = path.stat()
    return _read(str(path.resolve()), st.st_size, st.st_mtime_ns, anchors_pem, catalog_source, catalog_field)


@functools.lru_cache(maxsize=256)
def _read(path_s: str, size: int, mtime_ns: int, anchors_pem: bytes | None,
          catalog_source: str | None, catalog_field: str) -> InputProvenance:
    from provenance.reader import read_c2pa   # c2pa is loaded by the first input read, not by every plan

    path = Path(path_s)
    # 1. Its own C2PA manifest.
    report = read_c2pa(path, anchors_pem)
    if report.state in VALID_STATES:
        dst = report.digital_source_type
        if dst is None:
            return InputProvenance(path, None, "unknown", report.state, report.signer,
                                   note="its C2PA manifest names no digital source type")
        try:
            return InputProvenance(path, SourceType.parse(dst).value, "c2pa", report.state, report.signer)
        except ValueError as e:
            raise InputProvenanceError(f"{path.name}: its C2PA manifest's digital source type: {e}") from None
    if report.state != "absent":
        why = ", ".join(report.codes) or report.error or report.state
        if catalog_source != "unknown":
            raise InputProvenanceError(
                f"{path.name}: its C2PA manifest fails validation ({report.state}: {why}); fix or replace the "
                f"file, or set {catalog_field} to 'unknown' in the catalog to use it as unknown provenance")
        return InputProvenance(path, None, "unknown", report.state,
                               note=f"its C2PA manifest fails validation ({why}); the catalog says treat as unknown")
    # 2. IPTC XMP.
    dst = xmp_source_type(path)
    if dst is not None:
        return InputProvenance(path, dst, "xmp", "absent")
    # 3. The catalog.
    if catalog_source and catalog_source != "unknown":
        return InputProvenance(path, SourceType.parse(catalog_source).value, "catalog", "absent")
    return InputProvenance(path, None, "unknown", "absent",
                           note="no C2PA manifest, no IPTC digital source type in its XMP, none in the catalog")


def xmp_source_type(path: Path) -> str | None:
    """The IPTC digital source type in the file's XMP packet, as an IRI; None when there is none. A value
    outside the IPTC vocabulary Tessera knows raises InputProvenanceError naming it."""
    with open(path, "rb") as f:
        data = f.read(_XMP_MAX_SCAN)
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        return None
    end = data.find(b"</x:xmpmeta>", start)
    packet = data[start:end if end > 0 else len(data)]
    m = _XMP_DST.search(packet)
    if m is None:
        return None
    value = next(g for g in m.groups() if g).decode("utf-8", "replace").strip()
    try:
        return SourceType.parse(value).value
    except ValueError as e:
        raise InputProvenanceError(f"{path.name}: XMP Iptc4xmpExt:DigitalSourceType {value!r}: {e}") from None
