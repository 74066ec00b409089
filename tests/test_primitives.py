"""The shared primitives, and that every module uses them instead of its own copy."""
from __future__ import annotations

import ast
import hashlib
import json
import math
from datetime import date
from pathlib import Path

import pytest

from foundation.primitives import (
    Outcome, SourceType, atomic_path, canonical_json, move_atomic, sha256_file, sha256_text, write_json_atomic,
)

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("foundation", "catalogs", "generation", "provenance", "compliance", "pipeline", "flows")


def test_canonical_json_is_sorted_compact_utf8_and_refuses_nan():
    assert canonical_json({"b": 1, "a": ["ü", Path("/x/y"), date(2026, 12, 6)]}) == \
        '{"a":["ü","/x/y","2026-12-06"],"b":1}'
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})
    with pytest.raises(TypeError, match="no canonical form"):
        canonical_json({"x": object()})
    assert canonical_json(Outcome.RENDERED) == '"rendered"'


def test_sha256_file_streams_the_bytes(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * (3 << 20) + b"tail")
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha256_text("abc") == hashlib.sha256(b"abc").hexdigest()


def test_atomic_writes_leave_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []
    write_json_atomic(target, {"ok": True})
    assert json.loads(target.read_text()) == {"ok": True} and list(tmp_path.iterdir()) == [target]
    with atomic_path(tmp_path / "key.pem", mode=0o600) as tmp:
        tmp.write_bytes(b"secret")
    assert (tmp_path / "key.pem").stat().st_mode & 0o777 == 0o600
    move_atomic(target, tmp_path / "moved.json")
    assert not target.exists() and (tmp_path / "moved.json").is_file()


def test_source_types_are_one_closed_vocabulary():
    assert SourceType.parse("trainedAlgorithmicMedia") is SourceType.TRAINED_ALGORITHMIC_MEDIA
    assert SourceType.parse(SourceType.DIGITAL_CAPTURE.value).short == "digitalCapture"
    assert SourceType.TRAINED_ALGORITHMIC_MEDIA.is_ai and not SourceType.DIGITAL_CAPTURE.is_ai
    with pytest.raises(ValueError, match="'madeUp'"):
        SourceType.parse("madeUp")


def _modules():
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f"{f.value.id}.{f.attr}"
    return f.id if isinstance(f, ast.Name) else ""


# Hashes that are not content keys: they derive watermark bits and layouts from a secret key, or hash
# decoded pixels frame by frame (the authorship journal's frame evidence).
NOT_CONTENT_KEYS = {"provenance/watermark.py", "compliance/authorship.py"}


def test_every_key_hash_and_atomic_write_goes_through_the_primitives():
    """No module serialises for hashing, hashes a file, or renames a temp file into place by itself."""
    found = []
    for path, tree in _modules():
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith("foundation/"):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            keywords = {k.arg for k in node.keywords}
            if name == "json.dumps" and "sort_keys" in keywords and "indent" not in keywords:
                found.append(f"{rel}:{node.lineno}: json.dumps(sort_keys=...) instead of canonical_json")
            if name in ("hashlib.sha256", "hashlib.file_digest") and rel not in NOT_CONTENT_KEYS:
                found.append(f"{rel}:{node.lineno}: {name} instead of sha256_text/sha256_file")
            if name in ("os.replace", "os.rename", "tempfile.mkstemp") and rel != "generation/compose.py":
                found.append(f"{rel}:{node.lineno}: {name} instead of atomic_path/move_atomic")
    assert found == []


@pytest.mark.parametrize("backend, task, photo, composited, expected", [
    # a camera move and drawn copy are edits: the variant is what the photo is
    ("motion", None, SourceType.DIGITAL_CAPTURE, False, SourceType.DIGITAL_CAPTURE),
    ("motion", None, SourceType.TRAINED_ALGORITHMIC_MEDIA, False, SourceType.TRAINED_ALGORITHMIC_MEDIA),
    ("motion", None, None, False, None),                                   # unknown photo: no claim
    ("diffusers", "t2v", None, False, SourceType.TRAINED_ALGORITHMIC_MEDIA),
    ("diffusers", "i2v", SourceType.DIGITAL_CAPTURE, False, SourceType.TRAINED_ALGORITHMIC_MEDIA),
    ("diffusers", "i2v", SourceType.DIGITAL_CAPTURE, True, SourceType.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA),
])
def test_the_variant_source_type_follows_what_made_the_pixels(backend, task, photo, composited, expected):
    from foundation.primitives import variant_source_type
    assert variant_source_type(backend, task=task, photo=photo, photo_composited=composited) is expected


CAPTURE, AI, COMPOSITE = (SourceType.DIGITAL_CAPTURE, SourceType.TRAINED_ALGORITHMIC_MEDIA,
                          SourceType.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA)


@pytest.mark.parametrize("backend, task, photo, music, expected", [
    ("motion", None, CAPTURE, CAPTURE, CAPTURE),          # a recorded bed of a known, non-AI type changes nothing
    ("motion", None, CAPTURE, AI, COMPOSITE),             # an AI-made bed under captured pictures: a composite
    ("motion", None, None, AI, COMPOSITE),                # ... also under pictures of unknown provenance
    ("diffusers", "t2v", None, AI, AI),                   # all of it AI-made
    ("motion", None, CAPTURE, None, None),                # a bed of unknown provenance: no claim is true
    ("diffusers", "t2v", None, None, AI),                 # ... except that it contains AI-made pictures
])
def test_a_music_bed_counts_in_the_variant_source_type(backend, task, photo, music, expected):
    from foundation.primitives import variant_source_type
    assert variant_source_type(backend, task=task, photo=photo, music=music, has_music=True) is expected


@pytest.mark.parametrize("backend, task, composited, match", [
    ("motion", "t2v", False, "has no task"), ("diffusers", None, False, "task None"),
    ("diffusers", "t2v", True, "not a text-to-video"), ("gan", None, False, "backend 'gan'"),
])
def test_a_source_type_that_cannot_be_derived_is_an_error(backend, task, composited, match):
    from foundation.primitives import variant_source_type
    with pytest.raises(ValueError, match=match):
        variant_source_type(backend, task=task, photo=None, photo_composited=composited)


def test_which_source_types_count_as_ai_and_which_are_captures():
    # generative AI by IPTC's definitions; compositeSynthetic may hide an AI element: labelled (fail closed)
    assert {t.short for t in SourceType if t.is_ai} == {
        "trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "compositeSynthetic"}
    # algorithmicMedia is made "purely by an algorithm not based on any sampled training data": not AI
    assert not SourceType.ALGORITHMIC_MEDIA.is_ai and not SourceType.ALGORITHMIC_MEDIA.is_capture
    assert {t.short for t in SourceType if t.is_capture} == {
        "digitalCapture", "compositeCapture", "minorHumanEdits", "algorithmicallyEnhanced"}
