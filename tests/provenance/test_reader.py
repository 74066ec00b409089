"""The reader reports every file, ours or not, and never crashes on a hostile one."""
from pathlib import Path

import pytest
from PIL import Image

from provenance_media import COMPOSITE, flip_byte, mdat_middle
from provenance import read_c2pa
from provenance.reader import VARIANT_LABEL, detect_mime, report_from_json

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "c2pa-external"


def test_a_byte_flipped_in_the_frames_makes_the_mp4_invalid(signed_mp4, creds, tmp_path):
    tampered = flip_byte(signed_mp4, tmp_path / "tampered.mp4", mdat_middle(signed_mp4))
    report = read_c2pa(tampered, creds.anchors_pem)
    assert report.state == "Invalid"
    assert report.codes == ("assertion.bmffHash.mismatch",)
    assert report.asset_id == "tsr-test-0001"  # the claim is still readable, just no longer true


def test_the_report_carries_the_active_manifests_assertions_parsed_once(signed_mp4, creds):
    report = read_c2pa(signed_mp4, creds.anchors_pem)
    assert report.assertion(VARIANT_LABEL) == {"asset_id": "tsr-test-0001"}
    assert report.assertion("com.example.absent") is None
    created, placed = report.actions
    assert (created.action, created.digital_source_type, created.parameters) == ("c2pa.created", COMPOSITE, {"seed": 7})
    assert placed.action == "c2pa.placed" and placed.digital_source_type is None
    assert report.digital_source_type == created.digital_source_type
    assert report == report_from_json(report.manifest_json)   # equal whatever was parsed from the same JSON


def test_a_store_without_an_active_manifest_has_no_assertions():
    report = report_from_json('{"manifests": {}}')
    assert (report.state, report.active_label, report.assertions, report.actions) == ("error", None, (), ())
    assert report.assertion(VARIANT_LABEL) is None


def test_unsigned_media_reads_absent(media, tmp_path):
    assert read_c2pa(media / "clip.mp4", None).state == "absent"
    assert read_c2pa(media / "product.jpg", None).state == "absent"
    Image.new("RGB", (8, 8), "red").save(tmp_path / "plain.png")
    report = read_c2pa(tmp_path / "plain.png", None)
    assert (report.state, report.codes, report.manifest_json, report.error) == ("absent", (), None, None)


def test_hostile_and_unsupported_files_read_as_error(tmp_path, creds):
    nested = read_c2pa(FIXTURES / "nested_moov_1000.mp4", creds.anchors_pem)
    assert nested.state == "error"
    assert "nested" in nested.error
    (tmp_path / "notes.txt").write_text("hello")
    assert read_c2pa(tmp_path / "notes.txt", None).error == "unsupported media type: notes.txt"
    (tmp_path / "noise.mp4").write_bytes(bytes(range(256)) * 8)
    assert read_c2pa(tmp_path / "noise.mp4", None).state == "error"
    gone = read_c2pa(tmp_path / "missing.mp4", None)
    assert gone.state == "error" and "cannot read" in gone.error


def test_truncated_signed_mp4_does_not_crash(signed_mp4, creds, tmp_path):
    data = signed_mp4.read_bytes()
    cut_frames = tmp_path / "cut-frames.mp4"
    cut_frames.write_bytes(data[: mdat_middle(signed_mp4)])
    report = read_c2pa(cut_frames, creds.anchors_pem)
    assert (report.state, report.codes) == ("Invalid", ("assertion.bmffHash.mismatch",))
    cut_manifest = tmp_path / "cut-manifest.mp4"
    cut_manifest.write_bytes(data[:200])  # ends inside the manifest box
    report = read_c2pa(cut_manifest, creds.anchors_pem)
    assert report.state == "error"
    assert "beyond asset bounds" in report.error


@pytest.mark.parametrize("name, mime", [
    ("C.jpg", "image/jpeg"), ("nikon-20221019-building.jpeg", "image/jpeg"), ("video1.mp4", "video/mp4"),
    ("c.mov", "video/quicktime"), ("test.avi", "video/x-msvideo"), ("README.md", None),
])
def test_media_type_comes_from_the_bytes(name, mime, tmp_path):
    assert detect_mime(FIXTURES / name) == mime
    renamed = tmp_path / "renamed.bin"
    renamed.write_bytes((FIXTURES / name).read_bytes())
    assert detect_mime(renamed) == mime
