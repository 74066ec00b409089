"""The music bed in the variant's one encode: an AAC track as long as the video, faded, at the loudness
target (measured on the encoded file with ffmpeg's ebur128, an independent measurement)."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from gen_media import coffee_photo, ffmpeg_stream_info, make_spec, music_bed
from foundation.frames import audio_duration_s, duration_s, ffmpeg_exe, read_clip
from generation.compose import render_variant
from generation.motion import make_base_clip
from generation.sound import TARGET_LUFS, SoundError, fit_bed, integrated_loudness

SHORT = 240


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sound")
    return make_base_clip(coffee_photo(folder), cache_dir=folder / "cache", size=SHORT, fps=12, duration_s=4.0, seed=5)


@pytest.mark.parametrize("volume", [0.05, 0.9])      # a quiet bed is raised, a loud one lowered
def test_the_bed_is_an_aac_track_as_long_as_the_video_at_the_loudness_target(base, tmp_path, volume):
    bed = music_bed(tmp_path / "bed.wav", 10.0, volume=volume)
    rv = render_variant(base, make_spec("de-DE", "1:1", SHORT), tmp_path / "v.mp4", audio=bed)
    info = ffmpeg_stream_info(rv.path)
    assert "h264" in info
    assert abs(audio_duration_s(rv.path) - 4.0) < 0.05 and abs(duration_s(rv.path) - 4.0) < 0.05
    assert abs(integrated_loudness(rv.path) - TARGET_LUFS) <= 1.0
    audio = json.loads(rv.encoder_json)["audio"]
    assert audio["codec"] == "aac" and audio["source"] == "bed.wav" and audio["trim_s"] == 4.0
    assert audio["loudness"]["target_lufs"] == TARGET_LUFS and audio["loudness"]["method"] in ("linear", "dynamic")
    # the pictures are the same as without the bed
    silent = render_variant(base, make_spec("de-DE", "1:1", SHORT), tmp_path / "silent.mp4")
    assert all(np.array_equal(a, b) for a, b in zip(read_clip(rv.path), read_clip(silent.path)))
    assert "Audio" not in ffmpeg_stream_info(silent.path) and json.loads(silent.encoder_json)["audio"] is None


def test_a_bed_shorter_than_the_video_ends_in_silence(base, tmp_path):
    rv = render_variant(base, make_spec("de-DE", "1:1", SHORT), tmp_path / "v.mp4",
                        audio=music_bed(tmp_path / "short.wav", 2.0))
    assert abs(audio_duration_s(rv.path) - 4.0) < 0.05


def _samples(path) -> np.ndarray:
    """The audio track decoded to mono float samples at 48 kHz."""
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", "48000",
                          "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<f4")


def test_the_bed_fades_in_and_out(base, tmp_path):
    rv = render_variant(base, make_spec("de-DE", "1:1", SHORT), tmp_path / "v.mp4",
                        audio=music_bed(tmp_path / "bed.wav", 8.0, volume=0.9))
    x = _samples(rv.path)
    rms = lambda a, b: float(np.sqrt(np.mean(x[int(a * 48000):int(b * 48000)] ** 2)))   # noqa: E731
    middle = rms(1.5, 2.5)
    assert rms(0.0, 0.05) < 0.2 * middle and rms(3.95, 4.0) < 0.2 * middle       # 0.5 s in, 1 s out


def test_a_silent_bed_is_refused_by_name(tmp_path):
    bed = music_bed(tmp_path / "quiet.wav", 5.0, volume=0.0, noise=0.0)
    with pytest.raises(SoundError, match="music quiet.wav: silent"):
        fit_bed(bed, 4.0)
