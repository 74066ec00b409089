"""MP4 metadata read by walking boxes: the China AIGC implicit label as ffmpeg writes it, and malformed files."""
import json
import struct
import subprocess

import pytest

from compliance.mp4meta import Mp4MetaError, count_key, metadata_items, read_mp4_metadata
from compliance.rules import CN_AIGC_FIELDS, cn_aigc_metadata
from foundation.frames import ffmpeg_exe

AIGC = cn_aigc_metadata(content_producer="tessera:acme-ads", produce_id="asset-7f3a9c", content_propagator="", propagate_id="")


def _encode(path, *args: str):
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=12", "-t", "0.5",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", *args, str(path)]
    subprocess.run(cmd, check=True)
    return path


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mp4meta")
    return _encode(folder / "cn.mp4", "-metadata", f"AIGC={AIGC}", "-movflags", "+faststart+use_metadata_tags")


def test_aigc_json_written_by_ffmpeg_reads_back_as_one_object(labelled):
    assert count_key(labelled, "AIGC") == 1
    meta = read_mp4_metadata(labelled)
    aigc = json.loads(meta["AIGC"])
    assert list(aigc) == list(CN_AIGC_FIELDS)
    assert aigc["Label"] == "1" and aigc["ContentProducer"] == "tessera:acme-ads" and aigc["ProduceID"] == "asset-7f3a9c"
    assert meta["encoder"].startswith("Lav")  # ffmpeg's own tag comes through the same keys box
    assert {item.box_path for item in metadata_items(labelled)} == {"moov/udta/meta"}


def test_moov_at_the_end_is_found_too(tmp_path):
    path = _encode(tmp_path / "tail.mp4", "-metadata", f"AIGC={AIGC}", "-movflags", "use_metadata_tags")
    assert json.loads(read_mp4_metadata(path)["AIGC"])["ProduceID"] == "asset-7f3a9c"


def test_file_without_the_label_has_no_aigc_key(tmp_path):
    path = _encode(tmp_path / "plain.mp4", "-metadata", "title=spring sale")  # iTunes-style items, no keys box
    meta = read_mp4_metadata(path)
    assert count_key(path, "AIGC") == 0
    assert meta["©nam"] == "spring sale"


def test_truncated_file_names_the_file_and_offset(labelled, tmp_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(labelled.read_bytes()[:200])  # faststart: moov starts early and now overruns the file
    with pytest.raises(Mp4MetaError, match=r"cut\.mp4: box b'moov' at offset \d+"):
        read_mp4_metadata(cut)


def test_not_an_mp4_is_an_error(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_bytes(b"\x00\x00\x00\x10textTEXTTEXT")
    with pytest.raises(Mp4MetaError, match="no moov box"):
        read_mp4_metadata(bogus)


# hand-built files for what ffmpeg does not write: 64-bit box sizes, QuickTime (non-full) meta, a repeated key


def _box(kind: bytes, payload: bytes, *, large: bool = False) -> bytes:
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _mdta_meta(pairs: list[tuple[str, str]], *, full_box: bool) -> bytes:
    keys = [k for k, _ in pairs]
    keys_box = _box(b"keys", struct.pack(">II", 0, len(keys)) + b"".join(
        struct.pack(">I4s", 8 + len(k.encode()), b"mdta") + k.encode() for k in keys))
    items = b"".join(
        _box(struct.pack(">I", i + 1), _box(b"data", struct.pack(">II", 1, 0) + v.encode()))
        for i, (_, v) in enumerate(pairs)
    )
    hdlr = _box(b"hdlr", struct.pack(">II4s", 0, 0, b"mdta") + b"\x00" * 13)
    body = hdlr + keys_box + _box(b"ilst", items)
    return _box(b"meta", (b"\x00\x00\x00\x00" if full_box else b"") + body)


def test_64bit_sizes_quicktime_meta_and_repeated_keys(tmp_path):
    udta = _box(b"udta", _mdta_meta([("AIGC", '{"Label":"1"}')], full_box=True))
    moov_meta = _mdta_meta([("AIGC", '{"Label":"2"}'), ("com.apple.quicktime.make", "Tessera")], full_box=False)
    moov = _box(b"moov", _box(b"mvhd", b"\x00" * 100) + udta + moov_meta, large=True)
    path = tmp_path / "hand.mov"
    path.write_bytes(_box(b"ftyp", b"qt  \x00\x00\x00\x00qt  ") + moov + _box(b"mdat", b""))
    assert count_key(path, "AIGC") == 2  # a second label is a finding for the audit, not silently merged
    meta = read_mp4_metadata(path)
    assert meta["AIGC"] == '{"Label":"1"}'  # the first in file order
    assert meta["com.apple.quicktime.make"] == "Tessera"
    assert [i.box_path for i in metadata_items(path)] == ["moov/udta/meta", "moov/meta", "moov/meta"]
