"""CPU base clips: seeded camera moves over a real photo, lossless and cached by content key."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from gen_media import coffee_photo
from foundation.frames import probe, read_clip
from generation.motion import DIGITAL_CAPTURE, camera_boxes, make_base_clip, motion_params

SIZE, FPS, SECONDS = 96, 12, 1.0


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    return coffee_photo(tmp_path_factory.mktemp("photo"))


def frames_of(clip) -> np.ndarray:
    return np.stack(list(read_clip(clip.path)))


def test_same_seed_gives_identical_frames_in_separate_caches(photo, tmp_path):
    a = make_base_clip(photo, cache_dir=tmp_path / "a", size=SIZE, fps=FPS, duration_s=SECONDS, seed=3)
    b = make_base_clip(photo, cache_dir=tmp_path / "b", size=SIZE, fps=FPS, duration_s=SECONDS, seed=3)
    assert a.key == b.key and a.params_json == b.params_json
    fa, fb = frames_of(a), frames_of(b)
    assert fa.shape == (12, SIZE, SIZE, 3)
    assert np.array_equal(fa, fb)
    # The camera moves: first and last frames differ clearly.
    assert np.abs(fa[0].astype(int) - fa[-1].astype(int)).mean() > 5


def test_different_seed_gives_a_different_path_and_frames(photo, tmp_path):
    a = make_base_clip(photo, cache_dir=tmp_path, size=SIZE, fps=FPS, duration_s=SECONDS, seed=1)
    b = make_base_clip(photo, cache_dir=tmp_path, size=SIZE, fps=FPS, duration_s=SECONDS, seed=2)
    assert a.key != b.key and a.path != b.path
    assert motion_params(1) != motion_params(2)
    fa, fb = frames_of(a), frames_of(b)
    assert not np.array_equal(fa[-1], fb[-1])


def test_clip_records_what_made_it(photo, tmp_path):
    clip = make_base_clip(photo, cache_dir=tmp_path, size=SIZE, fps=FPS, duration_s=SECONDS, seed=5)
    assert (clip.width, clip.height, clip.fps, clip.frames, clip.backend) == (SIZE, SIZE, FPS, 12, "motion")
    assert clip.digital_source_type == DIGITAL_CAPTURE
    assert clip.key == hashlib.sha256(clip.params_json.encode()).hexdigest()
    params = json.loads(clip.params_json)
    assert params["photo_sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    assert params["seed"] == 5 and params["motion"]["zoom_end"] > params["motion"]["zoom_start"]
    assert clip.path == tmp_path / f"{clip.key}.mp4"
    assert json.loads((tmp_path / f"{clip.key}.json").read_text())["key"] == clip.key
    assert probe(clip.path)[:2] == (SIZE, SIZE)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp files left


def test_cache_hit_returns_without_rendering(photo, tmp_path):
    first = make_base_clip(photo, cache_dir=tmp_path, size=SIZE, fps=FPS, duration_s=SECONDS, seed=9)
    stamp = first.path.stat().st_mtime_ns
    again = make_base_clip(photo, cache_dir=tmp_path, size=SIZE, fps=FPS, duration_s=SECONDS, seed=9)
    assert again == first
    assert first.path.stat().st_mtime_ns == stamp      # not rewritten


def test_changed_photo_bytes_change_the_key(photo, tmp_path):
    other = tmp_path / "coffee_flipped.png"
    Image.open(photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(other)
    a = make_base_clip(photo, cache_dir=tmp_path, size=SIZE, fps=FPS, duration_s=SECONDS, seed=1)
    b = make_base_clip(other, cache_dir=tmp_path, size=SIZE, fps=FPS, duration_s=SECONDS, seed=1)
    assert a.key != b.key


def test_unreadable_sidecar_is_a_miss_and_is_repaired(photo, tmp_path):
    clip = make_base_clip(photo, cache_dir=tmp_path, size=SIZE, fps=FPS, duration_s=SECONDS, seed=4)
    sidecar = tmp_path / f"{clip.key}.json"
    sidecar.write_text("{not json")
    again = make_base_clip(photo, cache_dir=tmp_path, size=SIZE, fps=FPS, duration_s=SECONDS, seed=4)
    assert again == clip
    assert json.loads(sidecar.read_text())["key"] == clip.key


@pytest.mark.parametrize("seed", range(40))
def test_camera_never_leaves_the_photo(seed):
    params = motion_params(seed)
    side = 1000
    boxes = camera_boxes(params, 48, side)
    for left, top, right, bottom in boxes:
        assert -1e-9 <= left and -1e-9 <= top and right <= side + 1e-9 and bottom <= side + 1e-9
    widths = [b[2] - b[0] for b in boxes]
    assert widths == sorted(widths, reverse=True)      # a push-in: the crop only shrinks
    assert widths[0] > widths[-1] * 1.05


def test_bad_inputs_are_named(photo, tmp_path):
    with pytest.raises(ValueError, match="fps 0"):
        make_base_clip(photo, cache_dir=tmp_path, size=SIZE, fps=0, duration_s=1, seed=1)
    with pytest.raises(FileNotFoundError, match="nope.png"):
        make_base_clip(tmp_path / "nope.png", cache_dir=tmp_path, size=SIZE, fps=FPS, duration_s=1, seed=1)
