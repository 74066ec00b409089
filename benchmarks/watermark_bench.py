"""Our video watermark vs invisible-watermark (imwatermark: dwtDct, dwtDctSvd), one run, same frames.

Requirement of this benchmark only (never a runtime dependency of Tessera):
    .venv/bin/pip install invisible-watermark      # brings opencv-python

Run:  .venv/bin/python benchmarks/watermark_bench.py [--source composed|pan] [--short-side 1080]
                                                      [--aspect 16:9] [--seconds 4] [--baseline-frames 12]

Every method marks the same frames with a 64-bit payload. `--source composed` (default): a real
variant as the render stage composes it (the motion backend's clip of the sample espresso photo,
placed on the flat brand panel with the de-DE text, `generation.render_variant`), at
`--short-side` and `--aspect`; `--source pan`: a slow pan over skimage's coffee photo filling the
frame. Each marked clip is encoded once (libx264 CRF 20, yuv420p, like the composer), then every
attack is applied with the bundled ffmpeg. Ours is detected from the attacked file as shipped;
the baseline decodes per frame (frames scaled back to the original size, which helps it) and
takes a majority vote per bit over `--baseline-frames` evenly spaced frames. Prints markdown tables.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage import data as skdata

from decimal import Decimal

from generation import make_base_clip, output_size, render_variant
from generation.clipfile import ffmpeg_exe, read_clip
from generation.compose import format_price
from generation.spec import VariantSpec
from provenance.watermark import accumulate_frames, decode_stats, detect_file, payload_for_asset, watermark_hook

try:
    from imwatermark import WatermarkDecoder, WatermarkEncoder
except ImportError as exc:   # a benchmark-only requirement: say how to get it
    raise SystemExit("this benchmark needs invisible-watermark: .venv/bin/pip install invisible-watermark") from exc

W, H, FPS = 1920, 1080, 24          # the frame size is set by main() from the options
SAMPLE = Path(__file__).resolve().parents[1] / "catalogs" / "sample"
KEY = b"benchmark key"
PAYLOAD = payload_for_asset("benchmark-asset")
PAYLOAD_BITS = np.array([(PAYLOAD >> (63 - i)) & 1 for i in range(64)], np.uint8)
BASELINES = ("dwtDct", "dwtDctSvd")

_X264 = ["-c:v", "libx264", "-crf", "23", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
# name -> (arguments before -i, arguments after -i, output suffix); the same list as the tests
ATTACKS: dict[str, tuple[list[str], list[str], str]] = {
    "none (CRF 20 encode only)": ([], ["-c", "copy"], ".mp4"),
    "H.264 CRF 23": ([], _X264, ".mp4"),
    "H.264 CRF 28": ([], ["-c:v", "libx264", "-crf", "28", "-preset", "veryfast", "-pix_fmt", "yuv420p"], ".mp4"),
    "H.264 CRF 32": ([], ["-c:v", "libx264", "-crf", "32", "-preset", "veryfast", "-pix_fmt", "yuv420p"], ".mp4"),
    "H.265 CRF 28": ([], ["-c:v", "libx265", "-crf", "28", "-preset", "fast", "-x265-params", "log-level=error",
                          "-pix_fmt", "yuv420p"], ".mp4"),
    "VP9 CRF 32": ([], ["-c:v", "libvpx-vp9", "-crf", "32", "-b:v", "0", "-deadline", "realtime", "-cpu-used", "8",
                        "-pix_fmt", "yuv420p"], ".webm"),
    "downscale 50% + CRF 23": ([], ["-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2"] + _X264, ".mp4"),
    "crop 10% + rescale": ([], ["-vf", "crop=iw*0.9:ih*0.9:iw*0.05:ih*0.05,scale={w}:{h}"] + _X264, ".mp4"),
    "brightness/contrast +20%": ([], ["-vf", "eq=brightness=0.2:contrast=1.2"] + _X264, ".mp4"),
    "brightness/contrast -20%": ([], ["-vf", "eq=brightness=-0.2:contrast=0.8"] + _X264, ".mp4"),
    "24 -> 30 fps": ([], ["-vf", "fps=30"] + _X264, ".mp4"),
    "3 s excerpt (middle)": (["-ss", "0.5", "-t", "3"], _X264, ".mp4"),
    "remux, metadata stripped": ([], ["-map_metadata", "-1", "-c", "copy"], ".mp4"),
}


def composed_frames(seconds: float, aspect: str, short_side: int, cache: Path) -> list[np.ndarray]:
    """The unmarked final frames of a real variant, as the composer hands them to the frame hook."""
    brand = json.loads((SAMPLE / "brand.json").read_text())
    width, height = output_size(aspect, short_side)
    spec = VariantSpec(
        asset_id="benchmark-asset", sku="ESP-BLEND-1KG", locale="de-DE", aspect=aspect, width=width, height=height,
        headline="Espresso mit perfekter Crema", price_text=format_price(Decimal("22.99"), "EUR", "de-DE"),
        cta="Jetzt kaufen", captions=("Volle Crema, Noten von Kakao und Karamell",
                                      "Frisch geröstet, als ganze Bohne geliefert"),
        primary_color=brand["primary_color"], secondary_color=brand["secondary_color"],
        text_color=brand["text_color"], font_family=brand["font_family"])
    base = make_base_clip(SAMPLE / "photos" / "coffee.jpg", cache_dir=cache, size=short_side, fps=FPS,
                          duration_s=seconds, seed=0)
    frames: list[np.ndarray] = []

    def keep(i: int, frame: np.ndarray) -> np.ndarray:
        frames.append(frame.copy())
        return frame

    render_variant(base, spec, cache / "unmarked.mp4", frame_hook=keep)
    return frames


def pan_frames(seconds: float) -> list[np.ndarray]:
    photo = skdata.coffee().astype(np.float32)
    z = max(W * 1.2 / photo.shape[1], H / photo.shape[0])
    big = np.clip(ndimage.zoom(photo, (z, z, 1), order=1), 0, 255).astype(np.uint8)
    y = (big.shape[0] - H) // 2
    xs = np.linspace(0, big.shape[1] - W, int(round(seconds * FPS))).round().astype(int)
    return [np.ascontiguousarray(big[y: y + H, x: x + W]) for x in xs]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def mark_and_encode(frames: list[np.ndarray], method: str, path: Path) -> tuple[float, float, float]:
    """Mark every frame, pipe into one CRF 20 encode; returns embed (wall ms, CPU ms) per frame
    and the mean PSNR. CPU time is this process's only (the encoder is another process), which
    shows the cost without the waits of a busy shared machine."""
    if method == "ours":
        hook = watermark_hook(PAYLOAD, KEY)
        embed = lambda i, f: hook(i, f)                                           # noqa: E731
    else:
        encoder = WatermarkEncoder()
        encoder.set_watermark("bits", PAYLOAD_BITS.tolist())
        embed = lambda i, f: encoder.encode(f[..., ::-1].copy(), method)[..., ::-1]  # noqa: E731 (RGB<->BGR)
    proc = subprocess.Popen(
        [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
         "-r", str(FPS), "-i", "pipe:", "-c:v", "libx264", "-crf", "20", "-preset", "veryfast",
         "-pix_fmt", "yuv420p", str(path)], stdin=subprocess.PIPE)
    spent, cpu, quality = 0.0, 0.0, []
    for i, frame in enumerate(frames):
        start, start_cpu = time.perf_counter(), time.process_time()
        marked = np.ascontiguousarray(embed(i, frame), dtype=np.uint8)
        spent += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        quality.append(psnr(marked, frame))
        proc.stdin.write(marked.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit(f"encoding {method} failed")
    return spent / len(frames) * 1000, cpu / len(frames) * 1000, float(np.mean(quality))


def attack(src: Path, name: str) -> Path:
    before, after, suffix = ATTACKS[name]
    dst = src.with_name(f"{src.stem}-{len(name)}-{abs(hash(name)) % 10_000}{suffix}")
    after = [a.format(w=W, h=H) for a in after]
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", *before, "-i", str(src), *after, str(dst)], check=True)
    return dst


def baseline_decode(path: Path, method: str, n_frames: int) -> tuple[float, bool, float, float]:
    """(bit accuracy after majority vote, exact, decode wall and CPU ms per frame) over n evenly
    spaced frames."""
    frames = list(read_clip(path, size=(W, H)))
    picks = [frames[i] for i in np.linspace(0, len(frames) - 1, n_frames).round().astype(int)]
    decoder = WatermarkDecoder("bits", 64)
    start, start_cpu = time.perf_counter(), time.process_time()
    votes = np.array([np.asarray(decoder.decode(f[..., ::-1].copy(), method), dtype=np.float64) for f in picks])
    spent = (time.perf_counter() - start) / len(picks) * 1000
    cpu = (time.process_time() - start_cpu) / len(picks) * 1000
    bits = (votes.mean(axis=0) > 0.5).astype(np.uint8)
    return float(np.mean(bits == PAYLOAD_BITS)), bool(np.array_equal(bits, PAYLOAD_BITS)), spent, cpu


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    global W, H
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("composed", "pan"), default="composed",
                        help="composed: a real variant on the brand panel (default); pan: full-frame photo pan")
    parser.add_argument("--short-side", type=int, default=1080, help="short side of the frame (default 1080)")
    parser.add_argument("--aspect", choices=("16:9", "9:16", "1:1"), default="16:9", help="layout (default 16:9)")
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length (default 4; the excerpt attack needs >= 3.5)")
    parser.add_argument("--baseline-frames", type=int, default=12, help="frames the baseline decodes per clip (default 12)")
    args = parser.parse_args()
    W, H = output_size(args.aspect, args.short_side)
    methods = ("ours",) + BASELINES
    with tempfile.TemporaryDirectory(prefix="wm-bench-") as tmp:
        if args.source == "composed":
            frames = composed_frames(args.seconds, args.aspect, args.short_side, Path(tmp))
        else:
            frames = pan_frames(args.seconds)
        print(f"machine: {os.cpu_count()} cores, {cpu_model()}; clip: {len(frames)} frames {W}x{H} @ {FPS} fps, "
              f"source {args.source}\n")
        summary: dict[str, dict[str, float]] = {}
        marked: dict[str, Path] = {}
        # 1. embed + encode, speed and quality
        for method in methods:
            marked[method] = Path(tmp) / f"{method}.mp4"
            embed_ms, embed_cpu, quality = mark_and_encode(frames, method, marked[method])
            summary[method] = {"embed": embed_ms, "embed_cpu": embed_cpu, "psnr": quality}
        # 2. detection speed on the decoded marked clip (frames in memory, video decoding not counted)
        decoded = list(read_clip(marked["ours"]))
        start, start_cpu = time.perf_counter(), time.process_time()
        decode_stats(accumulate_frames(decoded), KEY)
        summary["ours"]["detect"] = (time.perf_counter() - start) / len(decoded) * 1000
        summary["ours"]["detect_cpu"] = (time.process_time() - start_cpu) / len(decoded) * 1000
        # 3. attacks
        rows = []
        for name in ATTACKS:
            row = [name]
            result = detect_file(attack(marked["ours"], name), key=KEY)
            exact = result.found and result.payload == PAYLOAD
            row.append(f"{'yes' if exact else 'NO'} ({result.bit_accuracy_estimate:.0%} raw)")
            for method in BASELINES:
                accuracy, exact, spent, cpu = baseline_decode(attack(marked[method], name), method, args.baseline_frames)
                summary[method]["detect"], summary[method]["detect_cpu"] = spent, cpu
                row.append(f"{'yes' if exact else 'no'} ({accuracy:.0%})")
            rows.append(row)
            print(f"  done: {name}", flush=True)
    print("\n| method | embed ms/frame wall (CPU) | detect ms/frame wall (CPU) | PSNR dB |\n| --- | ---: | ---: | ---: |")
    for method in methods:
        s = summary[method]
        print(f"| {method} | {s['embed']:.1f} ({s['embed_cpu']:.1f}) | {s['detect']:.1f} ({s['detect_cpu']:.1f}) | {s['psnr']:.1f} |")
    print("\n| attack | ours: payload exact (raw bit acc.) | dwtDct: exact (bit acc.) | dwtDctSvd: exact (bit acc.) |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\nours: CRC-checked 64-bit payload from the attacked file; 'raw' is the share of coded bits right before"
          f" error correction. Baselines: per-bit majority over {args.baseline_frames} frames.")


if __name__ == "__main__":
    main()
