"""Our video watermark vs invisible-watermark (imwatermark: dwtDct, dwtDctSvd), one run, same frames;
and the provenance overhead of a variant (watermark + fingerprints + signing vs compose-and-encode).

Requirement of this benchmark only (never a runtime dependency of Tessera):
    .venv/bin/pip install invisible-watermark      # brings opencv-python

Run:  .venv/bin/python benchmarks/watermark_bench.py [--source composed|pan] [--product ESP-BLEND-1KG]
          [--aspect 16:9 9:16 1:1] [--short-side 720 1080] [--seconds 4] [--no-baselines]
          [--baseline-frames 12] [--sections attacks overhead] [--overhead-reps 5]

Attacks (section `attacks`, per layout and short side): every method marks the same frames with a
64-bit payload. `--source composed` (default): a real variant of the sample catalog as the render
stage composes it (`generation.plan.plan_variants` over catalogs/sample, the motion backend's clip
of the product photo placed on the flat brand panel with the locale's copy,
`generation.render_variant`); `--source pan`: a slow pan over skimage's coffee photo filling the
frame. Embed speed and PSNR: every method marks those frames (a composed variant's in memory,
nothing else running; the pan's while they are piped to ffmpeg). The file attacked: a composed
variant rendered again with the method as its frame hook (as the pipeline marks: the composer
puts the text layers back as composed), or the pan's piped frames; either way encoded once
(libx264 CRF 20, yuv420p), then every attack is applied with the bundled ffmpeg. Ours is
detected from the attacked file as shipped; the baseline decodes per frame (frames scaled back
to the original size, which helps it) and takes a majority vote per bit over
`--baseline-frames` evenly spaced frames.

Overhead (section `overhead`, composed only, per layout and short side): the same variant, one at a
time, `--overhead-reps` pairs in ABBA order: `render_variant` without a hook (compose-and-encode
without provenance), and as flows/render.py's variant_task does it: with the
`durable_marks(...).hook` (watermark + fingerprints), then `manifest_parts` + `variant_manifest` +
`sign_file` with dev credentials in a temp home. Wall and CPU time (this process plus the ffmpeg
children it waited for: decoder and encoder). The overhead of a pair is (render with hook - render
without) + signing; its median over the pairs is shown as a share of the median compose-and-encode
without provenance, with a distribution-free 95% confidence interval for that median (sign test).
Prints markdown tables.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.stats import binom
from skimage import data as skdata

from catalogs import load_catalog
from compliance.rules import known_profiles
from generation import make_base_clip, output_size, render_variant
from foundation.frames import ffmpeg_exe, read_clip
from generation.plan import RenderOptions, VariantPlan, plan_variants
from foundation.records import BaseClip, RenderedVariant
from provenance import SigningConfig, load_credentials, sign_file, watermark_key
from provenance.soft_binding import durable_marks, manifest_parts
from pipeline.manifest import variant_manifest
from provenance.inputs import input_provenance
from provenance.watermark import accumulate_frames, decode_stats, detect_file, payload_for_asset, watermark_hook

try:
    from imwatermark import WatermarkDecoder, WatermarkEncoder
except ImportError as exc:   # a benchmark-only requirement: say how to get it
    raise SystemExit("this benchmark needs invisible-watermark: .venv/bin/pip install invisible-watermark") from exc

FPS = 24
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


# ---------------------------------------------------------------- clips

def sample_variant(sku: str, locale: str, aspect: str, short_side: int, seconds: float | None,
                   work: Path) -> tuple[VariantPlan, BaseClip]:
    """A variant of the sample catalog as the render plans it, and the motion backend's base clip
    of its product (`seconds` long, or the product's duration)."""
    catalog = load_catalog(SAMPLE, known_profiles=known_profiles())
    plans = plan_variants(catalog, RenderOptions(short_side=short_side, fps=FPS), work / "out")
    for plan in plans:
        if (plan.spec.sku, plan.spec.locale, plan.spec.aspect) == (sku, locale, aspect):
            duration = seconds if seconds is not None else float(plan.product.duration_s)
            base = make_base_clip(plan.product.photo, cache_dir=work / "clips", size=short_side, fps=FPS,
                                  duration_s=duration, seed=0)
            return plan, base
    have = sorted({(p.spec.sku, p.spec.locale) for p in plans})
    raise SystemExit(f"no variant {sku} {locale} {aspect} in {SAMPLE}; have {have}")


def composed_frames(plan: VariantPlan, base: BaseClip, work: Path) -> list[np.ndarray]:
    """The unmarked final frames of the variant, as the composer hands them to the frame hook."""
    frames: list[np.ndarray] = []

    def keep(i: int, frame: np.ndarray) -> np.ndarray:
        frames.append(frame.copy())
        return frame

    render_variant(base, plan.spec, work / "unmarked.mp4", frame_hook=keep)
    return frames


def pan_frames(seconds: float, size: tuple[int, int]) -> list[np.ndarray]:
    width, height = size
    photo = skdata.coffee().astype(np.float32)
    z = max(width * 1.2 / photo.shape[1], height / photo.shape[0])
    big = np.clip(ndimage.zoom(photo, (z, z, 1), order=1), 0, 255).astype(np.uint8)
    y = (big.shape[0] - height) // 2
    xs = np.linspace(0, big.shape[1] - width, int(round(seconds * FPS))).round().astype(int)
    return [np.ascontiguousarray(big[y: y + height, x: x + width]) for x in xs]


# ---------------------------------------------------------------- attacks

def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def embedder(method: str) -> Callable[[int, np.ndarray], np.ndarray]:
    """A frame hook that marks with `method` (a fresh one per clip: ours keeps state)."""
    if method == "ours":
        return watermark_hook(PAYLOAD, KEY)
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", PAYLOAD_BITS.tolist())
    return lambda i, f: encoder.encode(f[..., ::-1].copy(), method)[..., ::-1]   # RGB <-> BGR


def mark_and_encode(frames: list[np.ndarray], method: str, path: Path,
                    variant: tuple[VariantPlan, BaseClip] | None = None) -> tuple[float, float, float]:
    """Mark every frame and encode once at CRF 20; returns embed (wall ms, CPU ms) per frame and
    the lowest PSNR of a frame as the method returned it. A composed variant: speed and quality
    from marking its frames in memory with nothing else running (each marked frame dropped at
    once, as the pipeline does), then the file the attacks start from is rendered by
    `render_variant` with the method as its frame hook (as the pipeline marks: the composer puts
    the text layers back as composed, so that PSNR is a lower bound). The pan: its marked frames
    piped to one ffmpeg encode while it is timed. CPU time is this process's only."""
    embed, spent, cpu, quality = embedder(method), 0.0, 0.0, []
    proc = None
    if variant is None:
        height, width = frames[0].shape[:2]
        proc = subprocess.Popen(
            [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
             "-r", str(FPS), "-i", "pipe:", "-c:v", "libx264", "-crf", "20", "-preset", "veryfast",
             "-pix_fmt", "yuv420p", str(path)], stdin=subprocess.PIPE)
    for i, frame in enumerate(frames):
        start, start_cpu = time.perf_counter(), time.process_time()
        marked = np.ascontiguousarray(embed(i, frame), dtype=np.uint8)
        spent += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        quality.append(psnr(marked, frame))
        if proc is not None:
            proc.stdin.write(marked.tobytes())
    if proc is not None:
        proc.stdin.close()
        if proc.wait() != 0:
            raise SystemExit(f"encoding {method} failed")
    else:
        plan, base = variant
        render_variant(base, plan.spec, path, frame_hook=embedder(method))
    return spent / len(frames) * 1000, cpu / len(frames) * 1000, min(quality)


def attack(src: Path, name: str, size: tuple[int, int]) -> Path:
    before, after, suffix = ATTACKS[name]
    dst = src.with_name(f"{src.stem}-{len(name)}-{abs(hash(name)) % 10_000}{suffix}")
    after = [a.format(w=size[0], h=size[1]) for a in after]
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", *before, "-i", str(src), *after, str(dst)], check=True)
    return dst


def baseline_decode(path: Path, method: str, n_frames: int, size: tuple[int, int]) -> tuple[float, bool, float, float]:
    """(bit accuracy after majority vote, exact, decode wall and CPU ms per frame) over n evenly
    spaced frames."""
    frames = list(read_clip(path, size=size))
    picks = [frames[i] for i in np.linspace(0, len(frames) - 1, n_frames).round().astype(int)]
    decoder = WatermarkDecoder("bits", 64)
    start, start_cpu = time.perf_counter(), time.process_time()
    votes = np.array([np.asarray(decoder.decode(f[..., ::-1].copy(), method), dtype=np.float64) for f in picks])
    spent = (time.perf_counter() - start) / len(picks) * 1000
    cpu = (time.process_time() - start_cpu) / len(picks) * 1000
    bits = (votes.mean(axis=0) > 0.5).astype(np.uint8)
    return float(np.mean(bits == PAYLOAD_BITS)), bool(np.array_equal(bits, PAYLOAD_BITS)), spent, cpu


def attack_tables(frames: list[np.ndarray], work: Path, baselines: bool, baseline_frames: int,
                  variant: tuple[VariantPlan, BaseClip] | None = None) -> None:
    """Speed and quality per method, then the payload under each attack alone (`frames`: the
    composed `variant`'s unmarked frames, or the pan's)."""
    height, width = frames[0].shape[:2]
    methods = ("ours",) + (BASELINES if baselines else ())
    summary: dict[str, dict[str, float]] = {}
    marked: dict[str, Path] = {}
    # 1. embed + encode, speed and quality
    for method in methods:
        marked[method] = work / f"{method}.mp4"
        embed_ms, embed_cpu, quality = mark_and_encode(frames, method, marked[method], variant)
        summary[method] = {"embed": embed_ms, "embed_cpu": embed_cpu, "psnr": quality}
    # 2. detection speed on the decoded marked clip (frames in memory, video decoding not counted)
    decoded = list(read_clip(marked["ours"]))
    start, start_cpu = time.perf_counter(), time.process_time()
    decode_stats(accumulate_frames(decoded), KEY)
    summary["ours"]["detect"] = (time.perf_counter() - start) / len(decoded) * 1000
    summary["ours"]["detect_cpu"] = (time.process_time() - start_cpu) / len(decoded) * 1000
    # 3. attacks, each alone on the marked file
    rows, found = [], 0
    for name in ATTACKS:
        result = detect_file(attack(marked["ours"], name, (width, height)), key=KEY)
        exact = result.found and result.payload == PAYLOAD
        found += exact
        row = [name, f"{'yes' if exact else 'NO'} ({result.bit_accuracy_estimate:.0%} raw)"]
        for method in methods[1:]:
            accuracy, ok, spent, cpu = baseline_decode(attack(marked[method], name, (width, height)), method,
                                                       baseline_frames, (width, height))
            summary[method]["detect"], summary[method]["detect_cpu"] = spent, cpu
            row.append(f"{'yes' if ok else 'no'} ({accuracy:.0%})")
        rows.append(row)
        print(f"  done: {name}", flush=True)
    print("\n| method | embed ms/frame wall (CPU) | detect ms/frame wall (CPU) | lowest PSNR of a frame, dB |\n"
          "| --- | ---: | ---: | ---: |")
    for method in methods:
        s = summary[method]
        print(f"| {method} | {s['embed']:.2f} ({s['embed_cpu']:.2f}) | {s['detect']:.1f} ({s['detect_cpu']:.1f}) "
              f"| {s['psnr']:.1f} |")
    print("\n| attack | ours: payload exact (raw bit acc.) |"
          + "".join(f" {m}: exact (bit acc.) |" for m in methods[1:]))
    print("| --- | --- |" + " --- |" * (len(methods) - 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nours: {found} of {len(ATTACKS)} exact. CRC-checked 64-bit payload from the attacked file; 'raw' is the"
          " share of coded bits right before error correction."
          + (f" Baselines: per-bit majority over {baseline_frames} frames." if baselines else ""))


# ---------------------------------------------------------------- provenance overhead

@dataclass(frozen=True)
class Spent:
    wall: float
    cpu: float            # this process (all threads, incl. c2pa signing)
    children: float       # ffmpeg processes waited for (decoder, encoder)

    @property
    def total(self) -> float:
        return self.cpu + self.children


def _now() -> Spent:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return Spent(time.perf_counter(), me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime)


def _since(start: Spent) -> Spent:
    end = _now()
    return Spent(end.wall - start.wall, end.cpu - start.cpu, end.children - start.children)


def median_ci(values: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """A distribution-free confidence interval for the median (the sign test's order statistics):
    [x_(k), x_(n+1-k)] with the largest k such that P(Binomial(n, 1/2) < k) <= (1 - confidence) / 2.
    None when there are too few values (n < 6 at 95%)."""
    xs, n = sorted(values), len(values)
    k = 0
    while k + 1 <= n // 2 and binom.cdf(k, n, 0.5) <= (1 - confidence) / 2:
        k += 1
    return (xs[k - 1], xs[n - k]) if k else None


def share_with_ci(diffs: list[float], base: float) -> str:
    """The median of the paired differences as a share of `base`, with its 95% confidence interval."""
    ci = median_ci(diffs)
    text = f"{statistics.median(diffs) / base:.1%}"
    return text + (f" (95% CI {ci[0] / base:.1%} to {ci[1] / base:.1%})" if ci else "")


def overhead_table(plan: VariantPlan, base: BaseClip, work: Path, reps: int) -> None:
    """Compose-and-encode without provenance vs the extra time of watermark + fingerprints + signing,
    one variant at a time, as flows/render.py's variant_task makes them."""
    signing = SigningConfig(home=work / "home")
    creds, key = load_credentials(signing), watermark_key(signing)
    render_variant(base, plan.spec, work / "warm.mp4")          # fonts, overlays, caches: not timed
    plain, marked, hooked, signed = [], [], [], []

    def render_plain() -> None:
        """1. compose + encode, no provenance"""
        start = _now()
        render_variant(base, plan.spec, work / "plain.mp4")
        plain.append(_since(start))

    def render_marked() -> RenderedVariant:
        """2. the same with the watermark + fingerprint hook (its own time summed too, as the flow
        does), then 3. the manifest with the soft bindings, and the signature"""
        marks = durable_marks(payload_for_asset(plan.asset_id), key, base.fps)
        in_hook = [0.0, 0.0]

        def timed(i: int, frame: np.ndarray) -> np.ndarray:
            t0, c0 = time.perf_counter(), time.process_time()
            out = marks.hook(i, frame)
            in_hook[0] += time.perf_counter() - t0
            in_hook[1] += time.process_time() - c0
            return out

        start = _now()
        rendered = render_variant(base, plan.spec, work / "staging.mp4", frame_hook=timed)
        marked.append(_since(start))
        hooked.append(in_hook)
        start = _now()
        action, soft = manifest_parts(marks, duration_ms=rendered.frames * 1000 // rendered.fps)
        photo = input_provenance(plan.product.photo, creds.anchors_pem, catalog_source=plan.product.photo_source)
        manifest = variant_manifest(plan, base, rendered, extra_actions=(action,), extra_assertions=soft, photo=photo)
        sign_file(work / "staging.mp4", work / "signed.mp4", manifest, creds)
        signed.append(_since(start))
        return rendered

    for rep in range(reps):
        # ABBA order (plain first in even repetitions, marked first in odd ones): a drift of the
        # machine's speed, or whichever render goes second being faster, cancels out in the pairs
        if rep % 2 == 0:
            render_plain()
            rendered = render_marked()
        else:
            rendered = render_marked()
            render_plain()
    plain_bytes = (work / "plain.mp4").stat().st_size
    marked_bytes = (work / "staging.mp4").stat().st_size

    def med(values) -> float:
        return statistics.median(values)

    frames = rendered.frames
    base_wall, base_cpu = med(p.wall for p in plain), med(p.total for p in plain)
    wm_wall = med(m.wall - p.wall for m, p in zip(marked, plain))
    wm_cpu = med(m.total - p.total for m, p in zip(marked, plain))
    sign_wall, sign_cpu = med(s.wall for s in signed), med(s.total for s in signed)
    over_wall = [m.wall - p.wall + s.wall for m, p, s in zip(marked, plain, signed)]
    over_cpu = [m.total - p.total + s.total for m, p, s in zip(marked, plain, signed)]
    hook_wall, hook_cpu = med(h[0] for h in hooked), med(h[1] for h in hooked)
    print(f"\nvariant {plan.spec.sku} {plan.spec.locale} {plan.spec.aspect} {plan.spec.width}x{plan.spec.height}, "
          f"{frames} frames; {reps} pairs of runs in ABBA order, one variant at a time; medians of the paired\n"
          f"differences, with a 95% confidence interval for the median\n")
    print("| time per variant | compose + encode, no provenance | watermark + fingerprints (render with hook"
          " - without) | signing (manifest + sign_file) | provenance overhead | overhead / compose + encode |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| wall s | {base_wall:.3f} | {wm_wall:.3f} | {sign_wall:.3f} | {med(over_wall):.3f} | "
          f"{share_with_ci(over_wall, base_wall)} |")
    print(f"| CPU s (process + ffmpeg children) | {base_cpu:.3f} | {wm_cpu:.3f} | {sign_cpu:.3f} | {med(over_cpu):.3f} | "
          f"{share_with_ci(over_cpu, base_cpu)} |")
    print(f"\nthe hook's own time inside the render: wall {hook_wall:.3f} s ({hook_wall / frames * 1000:.2f} ms/frame),"
          f" CPU {hook_cpu:.3f} s ({hook_cpu / frames * 1000:.2f} ms/frame); (hook + signing) / compose + encode:"
          f" wall {(hook_wall + sign_wall) / base_wall:.1%}, CPU {(hook_cpu + sign_cpu) / base_cpu:.1%}")
    print(f"the CPU difference of the renders, split: this process {med(m.cpu - p.cpu for m, p in zip(marked, plain)):+.3f} s"
          f" (the hook, the composer's text put back), ffmpeg {med(m.children - p.children for m, p in zip(marked, plain)):+.3f} s"
          " (x264 encoding the marked pixels)")
    print(f"file size at CRF 20: without provenance {plain_bytes / 1e6:.2f} MB, with the hook {marked_bytes / 1e6:.2f} MB"
          f" ({marked_bytes / plain_bytes - 1:+.0%}; the signed file adds the manifest)")
    print("runs (wall s / CPU s): " + "; ".join(
        f"plain {p.wall:.2f}/{p.total:.2f} marked {m.wall:.2f}/{m.total:.2f} sign {s.wall:.3f}/{s.total:.3f}"
        for p, m, s in zip(plain, marked, signed)))


# ---------------------------------------------------------------- main

def machine() -> str:
    model = platform.processor() or "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores, {model}, {mem:.0f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; load average {load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("composed", "pan"), default="composed",
                        help="composed: a sample-catalog variant on the brand panel (default); pan: full-frame photo pan")
    parser.add_argument("--product", default="ESP-BLEND-1KG",
                        help="SKU of the sample catalog (ESP-BLEND-1KG, CAT-BED-PLUSH, RKT-KIT-LP1)")
    parser.add_argument("--locale", default="de-DE", help="locale of the sample catalog (default de-DE)")
    parser.add_argument("--aspect", nargs="+", choices=("16:9", "9:16", "1:1"), default=["16:9"],
                        help="layouts, one table each (default 16:9)")
    parser.add_argument("--short-side", nargs="+", type=int, default=[1080], help="short sides (default 1080)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="clip length (default: the product's duration; the excerpt attack needs >= 3.5)")
    parser.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True,
                        help="also run invisible-watermark dwtDct and dwtDctSvd (slow at 1080p)")
    parser.add_argument("--baseline-frames", type=int, default=12, help="frames the baseline decodes per clip (default 12)")
    parser.add_argument("--sections", nargs="+", choices=("attacks", "overhead"), default=["attacks", "overhead"],
                        help="what to measure (default both; overhead needs --source composed)")
    parser.add_argument("--overhead-reps", type=int, default=5, help="pairs of overhead runs, plain and marked (default 5)")
    args = parser.parse_args()
    if args.source == "pan" and "overhead" in args.sections:
        raise SystemExit("--sections overhead measures a composed variant: use --source composed")
    if args.overhead_reps < 1:
        raise SystemExit(f"--overhead-reps must be >= 1, got {args.overhead_reps}")
    print(f"machine: {machine()}")
    for short_side in args.short_side:
        for aspect in args.aspect:
            with tempfile.TemporaryDirectory(prefix="wm-bench-") as tmp:
                work = Path(tmp)
                if args.source == "composed":
                    plan, base = sample_variant(args.product, args.locale, aspect, short_side, args.seconds, work)
                    what = f"{args.product} {args.locale} (motion clip of {plan.product.photo.name})"
                else:
                    plan = base = None
                    what = "pan over skimage coffee"
                print(f"\n## {aspect} at short side {short_side}: {what}, source {args.source}", flush=True)
                if "attacks" in args.sections:
                    if plan is not None:
                        frames, variant = composed_frames(plan, base, work), (plan, base)
                    else:
                        frames, variant = pan_frames(args.seconds or 4.0, output_size(aspect, short_side)), None
                    height, width = frames[0].shape[:2]
                    print(f"clip: {len(frames)} frames {width}x{height} @ {FPS} fps", flush=True)
                    attack_tables(frames, work, args.baselines, args.baseline_frames, variant)
                    del frames
                if "overhead" in args.sections:
                    overhead_table(plan, base, work, args.overhead_reps)
    print(f"\nmachine at the end: {machine()}")


if __name__ == "__main__":
    main()
