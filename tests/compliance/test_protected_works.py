"""Protected works: registered as perceptual hashes, found again in real H.264 video (crops, reframing, letterbox)."""
import numpy as np
import pytest
from PIL import Image
from skimage import data
from sqlalchemy import create_engine, inspect

from compliance.protected_works import (
    DEFAULT_THRESHOLD,
    ProtectedWorkError,
    ProtectedWorksRegistry,
    check_protected,
    frame_hashes,
    work_hashes,
)
from gate_media import encode_h264, pan
from foundation.frames import read_clip

FPS = 8
SKIMAGE_PHOTOS = ("coffee", "astronaut", "rocket", "camera", "hubble_deep_field", "immunohistochemistry",
                  "retina", "colorwheel", "page", "text", "horse", "moon", "brick", "grass", "gravel")


def _rgb(name: str) -> Image.Image:
    a = getattr(data, name)()
    if a.dtype != np.uint8:
        a = (a * 255).astype(np.uint8) if a.max() <= 1 else a.astype(np.uint8)
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=-1)
    return Image.fromarray(a[..., :3])


CHELSEA = _rgb("chelsea")  # 451x300, the "protected" work in these tests


@pytest.fixture
def registry(tmp_path):
    reg = ProtectedWorksRegistry(create_engine(f"sqlite:///{tmp_path / 'ledger.db'}"))
    CHELSEA.save(tmp_path / "chelsea.png")
    reg.add_work(tmp_path / "chelsea.png", "Chelsea the cat", "Stéfan van der Walt (licence pending)")
    return reg


def _video(tmp_path, name, image: Image.Image, size=(448, 300), n=2 * FPS):
    return encode_h264(pan(image, size, n, travel=0.05), tmp_path / f"{name}.mp4", fps=FPS)


def _crop(img: Image.Image, f: float) -> Image.Image:
    w, h = img.size
    return img.crop((round(w * (1 - f) / 2), round(h * (1 - f) / 2), round(w * (1 + f) / 2), round(h * (1 + f) / 2)))


def test_video_of_the_registered_work_is_blocked_naming_it_and_the_frames(registry, tmp_path):
    result = check_protected(_video(tmp_path, "same", CHELSEA), registry)
    assert result.blocked
    (match,) = result.matches
    assert match.title == "Chelsea the cat" and match.distance <= 6
    assert len(match.frame_indices) == result.frames_checked == 4  # every sampled frame (2 s at 2 per second)
    assert "'Chelsea the cat'" in result.reasons[0] and "frames 0, 4, 8, 12" in result.reasons[0]


def test_video_of_a_90_percent_crop_is_blocked(registry, tmp_path):
    result = check_protected(_video(tmp_path, "crop", _crop(CHELSEA, 0.9)), registry)
    assert result.blocked and result.matches[0].title == "Chelsea the cat"


def test_portrait_reframing_and_letterbox_are_blocked(registry, tmp_path):
    w, h = CHELSEA.size
    cw = round(h * 9 / 16)
    portrait = CHELSEA.crop(((w - cw) // 2, 0, (w - cw) // 2 + cw, h))  # what a 9:16 variant shows
    assert check_protected(_video(tmp_path, "portrait", portrait, size=(360, 640)), registry).blocked
    boxed = Image.new("RGB", (360, 640))  # the whole work, letterboxed into a portrait frame
    boxed.paste(CHELSEA.resize((360, 240)), (0, 200))
    frames = [np.asarray(boxed)] * FPS
    assert check_protected(frames, registry, fps=FPS).blocked


def test_unrelated_video_passes(registry, tmp_path):
    result = check_protected(_video(tmp_path, "coffee", _rgb("coffee")), registry)
    assert not result.blocked and result.matches == () and result.frames_checked == 4


@pytest.mark.slow
def test_threshold_calibration_separates_copies_from_unrelated_photos(tmp_path):
    table = np.array([h for _, h in work_hashes(CHELSEA)], dtype=np.uint64)

    def nearest(frame: np.ndarray) -> int:
        return min(bin(int(t) ^ h).count("1") for t in table for h in frame_hashes(frame))

    copies = [nearest(f) for img in (CHELSEA, _crop(CHELSEA, 0.9)) for f in read_clip(_video(tmp_path, "c", img))]
    unrelated = [nearest(np.asarray(_rgb(n).resize((448, 300)))) for n in SKIMAGE_PHOTOS]
    assert max(copies) <= DEFAULT_THRESHOLD < DEFAULT_THRESHOLD + 4 <= min(unrelated), (copies, unrelated)


def test_only_hashes_are_stored(registry):
    cols = {c["name"] for c in inspect(registry.engine).get_columns("protected_works")}
    assert cols == {"id", "title", "owner", "phashes", "added_at"}
    (work,) = registry.list()
    views = dict(work.phashes)
    assert {"whole", "crop90", "crop80", "tile00"} <= set(views)
    assert all(isinstance(h, int) and 0 <= h < 2**64 for h in views.values())


def test_remove_and_empty_registry(registry, tmp_path):
    (work,) = registry.list()
    registry.remove(work.id)
    assert registry.list() == ()
    with pytest.raises(KeyError, match=f"no protected work with id {work.id}"):
        registry.remove(work.id)
    assert not check_protected([np.asarray(CHELSEA)], registry, fps=FPS).blocked


def test_unreadable_or_flat_images_are_refused(registry, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ProtectedWorkError, match="notes.png: not a readable image"):
        registry.add_work(tmp_path / "notes.png", "x", "y")
    Image.new("RGB", (200, 200), (128, 128, 128)).save(tmp_path / "grey.png")
    with pytest.raises(ProtectedWorkError, match="flat"):
        registry.add_work(tmp_path / "grey.png", "x", "y")


def test_no_frames_blocks(registry):
    result = check_protected([], registry, fps=FPS)
    assert result.blocked and "no frames" in result.reasons[0]
