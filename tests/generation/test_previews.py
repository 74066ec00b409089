"""Web previews of takes: a browser-playable H.264 encode and a poster, made once per clip key."""
import subprocess

import numpy as np
import pytest

from foundation.frames import ClipError, ffmpeg_exe, probe, write_clip
from generation.previews import PREVIEW_SHORT_SIDE, web_preview


def _banner(path) -> str:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def test_a_preview_is_small_4_2_0_h264_and_made_once(tmp_path):
    frames = [np.full((288, 512, 3), i * 10, np.uint8) for i in range(12)]
    clip = tmp_path / "clip.mp4"
    write_clip(frames, clip, fps=12)
    assert "yuv444p" in _banner(clip) or "rgb" in _banner(clip)      # the lossless cache copy browsers cannot play
    preview = web_preview(clip, tmp_path / "previews", "ab" * 32)
    banner = _banner(preview.video)
    assert "h264" in banner and "yuv420p" in banner
    assert probe(preview.video)[:2] == (426, PREVIEW_SHORT_SIDE)
    assert preview.poster.read_bytes()[:2] == b"\xff\xd8"
    made = preview.video.stat().st_mtime_ns
    assert web_preview(clip, tmp_path / "previews", "ab" * 32) == preview
    assert preview.video.stat().st_mtime_ns == made
    full = web_preview(clip, tmp_path / "previews", "ab" * 32, full_size=True)
    assert probe(full.video)[:2] == (512, 288) and full.video != preview.video


def test_a_missing_clip_is_a_clear_error_and_leaves_nothing(tmp_path):
    with pytest.raises(ClipError, match="not in the cache"):
        web_preview(tmp_path / "gone.mp4", tmp_path / "previews", "cd" * 32)
    assert not (tmp_path / "previews").exists()
