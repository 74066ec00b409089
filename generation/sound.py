"""The brand kit's music bed, fitted to one variant: trimmed to its length, faded in and out, and
brought to the loudness target with ffmpeg's loudnorm in two passes (measure, then one linear gain,
so the bed's dynamics stay as they were), then encoded as AAC in the variant's one encode.

The target: -14 LUFS integrated (EBU R 128 measurement), true peaks at most -1.5 dBTP. Where the bed
cannot reach it with one linear gain without exceeding the true-peak ceiling, loudnorm limits it (its
dynamic mode); `AudioBed.method` says which. A bed shorter than the variant ends in silence.
"""
from __future__ import annotations

import functools
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from foundation.frames import ffmpeg_exe

__all__ = ["AudioBed", "SoundError", "fit_bed", "integrated_loudness"]

TARGET_LUFS = -14.0
TRUE_PEAK_DB = -1.5
LOUDNESS_RANGE = 11.0
FADE_IN_S = 0.5
FADE_OUT_S = 1.0
AAC_BITRATE = "128k"
SAMPLE_RATE = 48000


class SoundError(ValueError):
    """A music bed that cannot be read or fitted (the file is named)."""


@dataclass(frozen=True)
class AudioBed:
    path: Path
    duration_s: float
    filter: str          # the -af chain for the encode: trim, fades, loudnorm with the measured values
    method: str          # "linear" or "dynamic" (loudnorm's own choice, see the module docstring)
    measured_lufs: float     # integrated loudness of the trimmed, faded bed before the gain

    def settings(self) -> dict[str, object]:
        """What the encode did to the sound, for the variant's encoder settings."""
        return {"codec": "aac", "bitrate": AAC_BITRATE, "sample_rate": SAMPLE_RATE, "source": self.path.name,
                "trim_s": round(self.duration_s, 3), "fade_in_s": FADE_IN_S, "fade_out_s": self._fade_out(),
                "loudness": {"target_lufs": TARGET_LUFS, "true_peak_db": TRUE_PEAK_DB, "method": self.method,
                             "measured_lufs": self.measured_lufs}}

    def _fade_out(self) -> float:
        return min(FADE_OUT_S, self.duration_s / 2)


def fit_bed(path: Path, duration_s: float) -> AudioBed:
    """The bed at `path` fitted to `duration_s` seconds (measured once per file, size, mtime and length)."""
    path = Path(path)
    st = path.stat()
    return _fit(str(path.resolve()), st.st_size, st.st_mtime_ns, round(float(duration_s), 3))


@functools.lru_cache(maxsize=64)
def _fit(path_s: str, size: int, mtime_ns: int, duration_s: float) -> AudioBed:
    path = Path(path_s)
    if duration_s <= 0:
        raise SoundError(f"music {path.name}: variant length {duration_s} s is not positive")
    fade_out = min(FADE_OUT_S, duration_s / 2)
    shape = (f"atrim=0:{duration_s},asetpts=N/SR/TB,"
             f"afade=t=in:st=0:d={min(FADE_IN_S, duration_s / 2)},"
             f"afade=t=out:st={duration_s - fade_out:.3f}:d={fade_out},"
             f"apad=whole_dur={duration_s}")
    # 1. Measure the trimmed, faded bed.
    stats = _loudnorm_stats(path, f"{shape},loudnorm=I={TARGET_LUFS}:TP={TRUE_PEAK_DB}:LRA={LOUDNESS_RANGE}"
                                  f":print_format=json")
    if stats["input_i"] in ("-inf", "inf") or float(stats["input_i"]) < -70:
        raise SoundError(f"music {path.name}: silent over the first {duration_s} s; nothing to normalise")
    # 2. One gain from the measurement (loudnorm falls back to limiting where linear would clip).
    norm = (f"loudnorm=I={TARGET_LUFS}:TP={TRUE_PEAK_DB}:LRA={LOUDNESS_RANGE}:linear=true"
            f":measured_I={stats['input_i']}:measured_TP={stats['input_tp']}:measured_LRA={stats['input_lra']}"
            f":measured_thresh={stats['input_thresh']}:offset={stats['target_offset']}")
    chain = f"{shape},{norm},aresample={SAMPLE_RATE}"
    applied = _loudnorm_stats(path, f"{shape},{norm}:print_format=json")
    method = "linear" if applied.get("normalization_type", "").lower() == "linear" else "dynamic"
    return AudioBed(path=path, duration_s=duration_s, filter=chain, method=method,
                    measured_lufs=round(float(stats["input_i"]), 2))


def _loudnorm_stats(path: Path, chain: str) -> dict[str, str]:
    """The JSON loudnorm prints at the end of a pass over `path` through `chain`."""
    err = _run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-vn", "-af", chain, "-f", "null", "-"],
               path)
    m = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", err)
    if not m:
        raise SoundError(f"music {path.name}: ffmpeg measured no loudness ({_last_line(err)})")
    return {k: str(v) for k, v in json.loads(m.group(0)).items()}


def integrated_loudness(path: Path) -> float:
    """Integrated loudness (LUFS, EBU R128, ffmpeg's ebur128 filter) of the first audio stream of `path`."""
    path = Path(path)
    err = _run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-vn", "-af", "ebur128", "-f", "null", "-"],
               path)
    m = re.findall(r"I:\s+(-?\d+(?:\.\d+)?) LUFS", err)
    if not m:
        raise SoundError(f"{path.name}: no audio loudness measured ({_last_line(err)})")
    return float(m[-1])         # the summary at the end


def _run(args: list[str], path: Path) -> str:
    """Run ffmpeg with its stderr in a file (it can be long) and return it; SoundError naming the file."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SoundError(f"music {path.name}: ffmpeg cannot read it ({_last_line(text)})")
    return text


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
