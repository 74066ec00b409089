"""Perceptual fingerprints: an attacked copy of a real clip finds its asset first among a million
stored hashes, in milliseconds; a different clip finds nothing; the index survives save/load."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from skimage import data as skdata

from foundation.frames import ffmpeg_exe
from provenance.fingerprint import (
    FingerprintIndex, FingerprintMatch, FingerprintRecorder, fingerprint_file, fingerprint_frames,
)

FPS = 24


def pan_frames(image: str, width: int = 1280, height: int = 720, seconds: float = 3.0) -> list[np.ndarray]:
    """A slow pan over a photo upscaled past the frame."""
    photo = getattr(skdata, image)()[..., :3].astype(np.float32)
    z = max(width * 1.2 / photo.shape[1], height / photo.shape[0])
    big = np.clip(ndimage.zoom(photo, (z, z, 1), order=1), 0, 255).astype(np.uint8)
    y = (big.shape[0] - height) // 2
    xs = np.linspace(0, big.shape[1] - width, int(seconds * FPS)).round().astype(int)
    return [np.ascontiguousarray(big[y: y + height, x: x + width]) for x in xs]


def encode(frames: list[np.ndarray], path: Path) -> Path:
    h, w = frames[0].shape[:2]
    proc = subprocess.Popen(
        [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
         "-r", str(FPS), "-i", "pipe:", "-c:v", "libx264", "-crf", "20", "-preset", "veryfast",
         "-pix_fmt", "yuv420p", str(path)],
        stdin=subprocess.PIPE,
    )
    for frame in frames:
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    assert proc.wait() == 0
    return path


def ffmpeg(src: Path, dst: Path, *args: str) -> Path:
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
    return dst


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("fp")
    frames = pan_frames("coffee")
    src = encode(frames, folder / "coffee.mp4")
    x264 = ["-c:v", "libx264", "-crf", "28", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    return {
        "frames": frames,
        "src": src,
        "cropped": ffmpeg(src, folder / "cropped.mp4", "-vf", "crop=iw*0.9:ih*0.9:iw*0.05:ih*0.05,scale=1280:720", *x264),
        "small_bright": ffmpeg(src, folder / "small.mp4", "-vf", "scale=640:360,eq=brightness=0.1:contrast=1.1", *x264),
        "other": encode(pan_frames("chelsea"), folder / "chelsea.mp4"),
    }


@pytest.fixture(scope="module")
def million(clips) -> FingerprintIndex:
    """1,000,000 random hashes in 1,000 assets, plus the real clip's hashes."""
    rng = np.random.default_rng(5)
    index = FingerprintIndex()
    for i in range(1000):
        index.add(f"random-{i:04d}", rng.integers(0, 2 ** 64, 1000, dtype=np.uint64))
    index.add("coffee-asset", fingerprint_file(clips["src"]))
    return index


@pytest.mark.slow
def test_file_and_frames_sample_the_same_moments(clips):
    from_file = fingerprint_file(clips["src"])
    from_frames = fingerprint_frames(clips["frames"], FPS)
    assert len(from_file) == len(from_frames) == 6          # 3 s at 2 per second
    assert all(0 <= h < 2 ** 64 for h in from_file)
    assert max(bin(a ^ b).count("1") for a, b in zip(from_file, from_frames)) <= 4


@pytest.mark.slow
def test_recorder_hashes_what_the_file_will_hash(clips):
    """The render records fingerprints from its frames as they are encoded (squashed with PIL's
    reducing_gap=1 for speed); an audit hashes the decoded file with ffmpeg's scaler."""
    recorder = FingerprintRecorder(FPS)
    for i, frame in enumerate(clips["frames"]):
        assert recorder(i, frame) is frame
    from_file = fingerprint_file(clips["src"])
    assert len(recorder.hashes) == len(from_file) == 6
    assert max(bin(a ^ b).count("1") for a, b in zip(recorder.hashes, from_file)) <= 4


@pytest.mark.slow
@pytest.mark.parametrize("copy", ["cropped", "small_bright"])
def test_attacked_copy_finds_its_asset_first_in_a_million(clips, million, copy):
    assert len(million) == 1_000_006
    query = fingerprint_file(clips[copy])
    matches = million.query(query, max_distance=10)    # its speed: benchmarks/fingerprint_bench.py
    assert matches[0].asset_id == "coffee-asset"
    assert matches[0].votes >= len(query) - 1 and matches[0].best_distance <= 10


@pytest.mark.slow
def test_different_clip_matches_nothing(clips, million):
    matches = million.query(fingerprint_file(clips["other"]), max_distance=10)
    assert "coffee-asset" not in [m.asset_id for m in matches]
    assert all(m.votes <= 1 for m in matches)                # at most a chance near-collision


def test_ranking_votes_and_distance():
    index = FingerprintIndex()
    base = [0x0123456789ABCDEF, 0xFEDCBA9876543210, 0x0F0F0F0F0F0F0F0F]
    index.add("three-frames", base)
    index.add("one-frame", [base[0] ^ 0b1])                   # 1 bit away from the first query hash
    index.add("far", [base[0] ^ 0xFFFFFFFF00000000])                # >= 32 bits from every query hash
    matches = index.query([base[0] ^ 0b111, base[1], base[2]], max_distance=5)
    assert matches == [FingerprintMatch("three-frames", 0, 3), FingerprintMatch("one-frame", 2, 1)]


@pytest.mark.slow
def test_save_load_round_trip_is_atomic(tmp_path, million, clips):
    path = tmp_path / "fingerprints.npz"
    path.write_bytes(b"old contents")
    million.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["fingerprints.npz"]     # no temp file left behind
    loaded = FingerprintIndex.load(path)
    assert len(loaded) == len(million)
    query = fingerprint_file(clips["cropped"])
    assert loaded.query(query) == million.query(query)
    loaded.add("later", [1, 2, 3])
    assert loaded.query([1])[0] == FingerprintMatch("later", 0, 1)
    with pytest.raises(FileNotFoundError):
        million.save(tmp_path / "missing-folder" / "x.npz")


def test_bad_inputs_are_named(tmp_path):
    index = FingerprintIndex()
    with pytest.raises(ValueError, match="asset_id"):
        index.add("", [1])
    with pytest.raises(ValueError, match="max_distance"):
        index.query([1], max_distance=65)
    with pytest.raises(ValueError, match="fps"):
        fingerprint_frames([], 0)
    bad = tmp_path / "bad.npz"
    np.savez(bad, hashes=np.arange(3, dtype=np.int64), owners=np.zeros(3, np.int32), asset_ids=np.array(["a"]))
    with pytest.raises(ValueError, match="not a fingerprint index"):
        FingerprintIndex.load(bad)


def test_text_prints_tell_frames_apart_by_the_text_in_their_regions():
    """Two frames alike but for the words on a plate: the whole-frame hash barely moves, the text
    print of the plate's region does; the same frame re-hashed is at distance 0."""
    from PIL import Image, ImageDraw

    from provenance.fingerprint import FingerprintRecorder, text_distance

    def frame(text: str) -> np.ndarray:
        img = Image.new("RGB", (640, 360), "#0F4C5C")
        draw = ImageDraw.Draw(img)
        draw.rectangle((20, 20, 330, 340), fill="#C08040")
        draw.rounded_rectangle((384, 60, 608, 150), radius=6, fill="#123456")
        draw.text((396, 80), text, fill="#FFFFFF", font_size=28)
        return np.asarray(img)

    regions = ((0.6, 0.16, 0.95, 0.42),)
    prints = {}
    for text in ("Jetzt kaufen", "Comprar ahora"):
        rec = FingerprintRecorder(24, regions=regions)
        for i in range(24):
            rec(i, frame(text))
        prints[text] = rec.text_prints()
    de, es = prints["Jetzt kaufen"], prints["Comprar ahora"]
    assert de.regions == regions and len(de.hashes) == 2 and len(de.hashes[0]) == 1
    assert text_distance(de.hashes, de.hashes) == 0.0
    assert text_distance(es.hashes, de.hashes) > 0.18
    assert text_distance((), de.hashes) is None
    assert FingerprintRecorder(24).text_prints() is None
