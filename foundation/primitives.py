"""The primitives every stage shares, one implementation each.

- `canonical_json`: the one serialisation that every content key, variant key and journal
  hash is computed over.
- `sha256_text`, `sha256_file`: content hashes (files are streamed, never read whole).
- `atomic_path`, `write_text_atomic`, `write_json_atomic`, `move_atomic`: a file appears
  complete or not at all, and no temporary file is left behind on failure.
- `SourceType`: the IPTC digital-source-type vocabulary, as one closed type.
- `Author`: who or what wrote a piece of text (a person, a team, a machine-translation engine,
  a language model, or unknown), parsed from the catalog's `copy_author` syntax.
- `Outcome`: what happened to one planned variant, as one closed type.
"""
from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "canonical_json", "sha256_text", "sha256_file", "atomic_path", "write_bytes_atomic", "write_text_atomic", "write_json_atomic",
    "move_atomic", "SourceType", "IPTC_SOURCE_TYPES", "Author", "AUTHOR_KINDS", "Outcome", "pipeline_version",
]


# ---------------------------------------------------------------------------------- canonical JSON


def _canonical_default(value: Any) -> str:
    # Only values whose text form is unambiguous; anything else is a bug in the caller.
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, (Path, date, datetime)):
        return value.isoformat() if isinstance(value, (date, datetime)) else str(value)
    raise TypeError(f"canonical_json: {type(value).__name__} value {value!r} has no canonical form")


def canonical_json(value: Any) -> str:
    """Keys sorted, no whitespace, UTF-8 text kept as is (ensure_ascii=False), NaN and infinity
    refused (allow_nan=False: they have no JSON form), paths as their string, dates and times as
    ISO 8601, enums as their value; any other non-JSON type raises TypeError."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                      default=_canonical_default)


# ---------------------------------------------------------------------------------- hashes


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_file(path: Path | str) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# ---------------------------------------------------------------------------------- atomic writes


@contextmanager
def atomic_path(path: Path | str, *, suffix: str = "", mode: int = 0o644, fsync: bool = False) -> Iterator[Path]:
    """A temporary path beside `path` to write to; renamed onto `path` when the block ends without
    an error, removed when it raises. `suffix` keeps a file type that tools infer from the name
    (ffmpeg chooses its muxer by it). The file has `mode` from birth (keys: 0o600); with fsync,
    its bytes reach the disk before the rename (credentials)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".part{suffix}")
    try:
        os.fchmod(fd, mode)
        os.close(fd)
        yield Path(tmp)
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_bytes_atomic(path: Path | str, data: bytes, *, mode: int = 0o644, fsync: bool = False) -> None:
    with atomic_path(path, mode=mode, fsync=fsync) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: Path | str, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path | str, doc: Any) -> None:
    """Human-readable JSON (indented, UTF-8); not the canonical form, which is for hashing."""
    write_text_atomic(path, json.dumps(doc, indent=2, ensure_ascii=False, default=_canonical_default) + "\n")


def move_atomic(src: Path | str, dst: Path | str) -> None:
    """Rename `src` onto `dst`; across file systems, copy to a temporary file beside `dst`,
    rename it, then remove `src`."""
    src, dst = Path(src), Path(dst)
    try:
        os.replace(src, dst)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    src.unlink()


# ---------------------------------------------------------------------------------- vocabularies

IPTC_SOURCE_TYPES = "http://cv.iptc.org/newscodes/digitalsourcetype/"


class SourceType(str, Enum):
    """IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/) Tessera writes
    or reads; the value is the full IRI that C2PA and the IPTC Extension schema use."""
    DIGITAL_CAPTURE = IPTC_SOURCE_TYPES + "digitalCapture"
    COMPOSITE_CAPTURE = IPTC_SOURCE_TYPES + "compositeCapture"
    MINOR_HUMAN_EDITS = IPTC_SOURCE_TYPES + "minorHumanEdits"
    COMPOSITE = IPTC_SOURCE_TYPES + "composite"
    ALGORITHMIC_MEDIA = IPTC_SOURCE_TYPES + "algorithmicMedia"
    TRAINED_ALGORITHMIC_MEDIA = IPTC_SOURCE_TYPES + "trainedAlgorithmicMedia"
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = IPTC_SOURCE_TYPES + "compositeWithTrainedAlgorithmicMedia"
    COMPOSITE_SYNTHETIC = IPTC_SOURCE_TYPES + "compositeSynthetic"
    ALGORITHMICALLY_ENHANCED = IPTC_SOURCE_TYPES + "algorithmicallyEnhanced"

    @classmethod
    def parse(cls, value: str) -> SourceType:
        """From a full IRI or a short name ("trainedAlgorithmicMedia"); ValueError naming the value."""
        iri = value if "://" in value else IPTC_SOURCE_TYPES + value
        try:
            return cls(iri)
        except ValueError:
            raise ValueError(f"{value!r} is not an IPTC digital source type Tessera knows") from None

    @property
    def short(self) -> str:
        return self.value.removeprefix(IPTC_SOURCE_TYPES)

    @property
    def is_ai(self) -> bool:
        """A generative model made (some of) the pixels, or may have: what AI labelling rules apply to.

        trainedAlgorithmicMedia and compositeWithTrainedAlgorithmicMedia are generative AI by IPTC's own
        definition. algorithmicMedia is not: IPTC defines it as made purely by an algorithm *not* based on
        sampled training data (a procedural render), which no AI labelling law Tessera encodes covers.
        compositeSynthetic ("at least one element synthetic") does not say whether that element is AI-made
        or CGI; it counts as AI so that such an input is labelled rather than passed unlabelled (fail
        closed: a wrong label is a lesser fault than a missing one)."""
        return self in _AI_SOURCE_TYPES

    @property
    def is_capture(self) -> bool:
        """A camera captured the pixels (possibly composited, edited or enhanced, but not generated)."""
        return self in _CAPTURE_SOURCE_TYPES


_AI_SOURCE_TYPES = frozenset({SourceType.TRAINED_ALGORITHMIC_MEDIA, SourceType.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
                              SourceType.COMPOSITE_SYNTHETIC})
_CAPTURE_SOURCE_TYPES = frozenset({SourceType.DIGITAL_CAPTURE, SourceType.COMPOSITE_CAPTURE,
                                   SourceType.MINOR_HUMAN_EDITS, SourceType.ALGORITHMICALLY_ENHANCED})


def variant_source_type(backend: str, *, task: str | None = None, photo: SourceType | None,
                        photo_composited: bool = False, music: SourceType | None = None,
                        has_music: bool = False) -> SourceType | None:
    """The IPTC digital source type of a variant, from what made its pixels: the one place it is decided
    (docs/compliance.md, "Digital source type" has the table).

    backend "motion": the footage is the product photo's own pixels moved by a virtual camera; the move and
    the copy, price and labels Tessera draws are edits (c2pa.edited actions), not a new origin, so the
    variant is what the photo is: its own type (None, when its provenance is unknown: no claim is made).
    backend "diffusers": a trained model made the pixels, from text (task "t2v") or conditioned on the
    photo (task "i2v", the photo an inputTo ingredient): trainedAlgorithmicMedia; with the photo's own
    pixels composited into the generated frames, compositeWithTrainedAlgorithmicMedia.

    A music bed (has_music; music: its own type, None when unknown) is part of the file: an AI-made bed
    under pictures that are not makes the whole a compositeWithTrainedAlgorithmicMedia; a bed of unknown
    provenance leaves only an AI claim standing (it is true whatever the bed is), any other becomes None."""
    pictures = _pictures_source_type(backend, task=task, photo=photo, photo_composited=photo_composited)
    if not has_music or (music is not None and not music.is_ai):
        return pictures
    if pictures is not None and pictures.is_ai:
        return pictures
    return SourceType.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA if music is not None else None


def _pictures_source_type(backend: str, *, task: str | None, photo: SourceType | None,
                          photo_composited: bool) -> SourceType | None:
    if backend == "motion":
        if task is not None:
            raise ValueError(f"backend 'motion' has no task, got {task!r}")
        return photo
    if backend == "diffusers":
        if task not in ("t2v", "i2v"):
            raise ValueError(f"backend 'diffusers': task {task!r} is not 't2v' or 'i2v'")
        if photo_composited:
            if task != "i2v":
                raise ValueError("a photo composited into a 't2v' clip is not a text-to-video clip: use 'i2v'")
            return SourceType.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
        return SourceType.TRAINED_ALGORITHMIC_MEDIA
    raise ValueError(f"backend {backend!r}: no digital source type rule (expected 'motion' or 'diffusers')")


# Who or what wrote a text: "person:NAME", "team:NAME", "mt:ENGINE", "llm:MODEL" or "unknown".
AUTHOR_KINDS = ("person", "team", "mt", "llm", "unknown")
_HUMAN_AUTHORS = frozenset({"person", "team"})


@dataclass(frozen=True)
class Author:
    """Who or what wrote a text (docs/compliance.md, "Who wrote the copy"). Only a person or a team is a
    human author; a machine-translation engine or a language model is a system; "unknown" is neither."""
    kind: str                 # one of AUTHOR_KINDS
    name: str = ""            # the person, team, engine or model; "" for unknown

    @classmethod
    def parse(cls, value: str) -> Author:
        """From "kind:name" or "unknown"; ValueError naming the value and the syntax."""
        text = " ".join(value.split())
        if text == "unknown":
            return cls("unknown")
        kind, sep, name = text.partition(":")
        kind, name = kind.strip(), name.strip()
        if not sep or kind not in AUTHOR_KINDS or kind == "unknown" or not name:
            raise ValueError(f"{value!r} is not 'unknown' or KIND:NAME with KIND one of person, team, mt, llm "
                             f"(e.g. 'person:Li Wei', 'mt:DeepL', 'llm:gpt-4o')")
        return cls(kind, name)

    @property
    def human(self) -> bool:
        return self.kind in _HUMAN_AUTHORS

    @property
    def actor_kind(self) -> str:
        """How the authorship journal records this author: "human", "system" or "unknown"."""
        return "human" if self.human else "unknown" if self.kind == "unknown" else "system"

    def __str__(self) -> str:
        return "unknown" if self.kind == "unknown" else f"{self.kind}:{self.name}"


class Outcome(str, Enum):
    """What happened to one planned variant in a run."""
    RENDERED = "rendered"            # signed and published
    SKIPPED = "skipped"              # unchanged and intact
    AWAITING_PICK = "awaiting_pick"  # its takes wait for a person's pick (--require-review)
    REVIEW = "review"                # held unsigned for a person's approval
    BLOCKED = "blocked"              # quarantined by the compliance gate, never signed
    FAILED = "failed"                # an error stopped it; the reason says which


# ---------------------------------------------------------------------------------- software version


@functools.cache   # read from the installed metadata once per process (every planned variant asks)
def pipeline_version() -> str:
    """Tessera's own name and version, as recorded in keys, manifests and the journal."""
    try:
        return f"tessera/{metadata.version('tessera')}"
    except metadata.PackageNotFoundError:
        return "tessera/0.1.0"
