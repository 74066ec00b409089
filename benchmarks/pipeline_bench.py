"""Variants per minute for the demo catalog, the share of time per stage, and composition against the encode floor.

Section `render`, peer in the same run: the usual shell-script approach, one ffmpeg command per
variant (zoompan for the camera move, drawtext for the copy; no base-clip reuse, no signing,
no ledger), run with the same number of parallel workers.

Section `floor`: per aspect ratio and short side, one product's variants (its locales) composed
and encoded one at a time as the pipeline does (`render_variant`, no hook; the decoded base clip
is shared by the variants of a clip and aspect, its decode is timed once per aspect), against the
plain encode of the very same final frames: the same encoder process and settings, fed the frames
from memory-speed raw files through the same pipe. Printed: compose-and-encode / plain encode, wall
and CPU (this process + ffmpeg), median over `--reps` interleaved repetitions. With `--reference
REF` (default main) each variant is also composed by generation/compose.py as of that git commit:
the frames the frame hook sees and the encoded bytes are compared, with PSNR and VMAF (the bundled
ffmpeg's libvmaf) of the new file against the old one.

    .venv/bin/python benchmarks/pipeline_bench.py [--sections render floor] [--catalog catalogs/sample]
        [--workers 2] [--aspects 16:9 9:16 1:1] [--short-sides 720 1080] [--locales 6] [--reps 3]
        [--seconds 6] [--reference main|none]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from catalogs import load_catalog  # noqa: E402
from compliance.rules import known_profiles  # noqa: E402
from generation import ffmpeg_exe  # noqa: E402
from generation.fonts import font_for_locale  # noqa: E402
from generation.plan import RenderOptions, VariantPlan, plan_variants  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ASPECTS = ("16:9", "9:16", "1:1")


def ours(catalog: Path, workers: int, home: Path, out: Path):
    from flows.render import run_render
    from pipeline.settings import Settings

    settings = Settings.build(home=home, options=RenderOptions(), workers=workers)
    t0 = time.perf_counter()
    summary = run_render(catalog, out, settings, progress=lambda _: None)
    return summary, time.perf_counter() - t0


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\u2019").replace("%", "\\%")


def peer_variant(plan: VariantPlan, out: Path, fps: int) -> None:
    spec = plan.spec
    frames = int(plan.product.duration_s * fps)
    side = min(spec.width, spec.height)
    font = font_for_locale(spec.locale)
    text_size = max(12, side // 18)
    vf = (f"scale={side * 2}:-2,zoompan=z='min(zoom+0.0015,1.3)':d={frames}:s={side}x{side}:fps={fps},"
          f"pad={spec.width}:{spec.height}:(ow-iw)/2:(oh-ih)/2:color={spec.primary_color},"
          f"drawtext=fontfile='{font.faces[0].path}':text='{_escape(spec.headline)}':fontsize={text_size}:fontcolor=white:"
          f"x=(w-text_w)/2:y=h*0.12,"
          f"drawtext=fontfile='{font.faces[0].path}':text='{_escape(spec.price_text)}':fontsize={text_size}:fontcolor=white:"
          f"x=(w-text_w)/2:y=h*0.75")
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-loop", "1", "-i", str(plan.product.photo), "-vf", vf,
                    "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", str(2 * fps),
                    "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(out)], check=True)


def peer(catalog: Path, workers: int, out: Path) -> tuple[int, float]:
    plans = plan_variants(load_catalog(catalog, known_profiles=known_profiles()), RenderOptions(), out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda p: peer_variant(p, out / p.output_path.name, RenderOptions().fps), plans))
    return len(plans), time.perf_counter() - t0


# ---------------------------------------------------------------- the encode floor

def _clock() -> tuple[float, float]:
    """(wall, CPU of this process and its waited-for children) in seconds."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _since(start: tuple[float, float]) -> tuple[float, float]:
    now = _clock()
    return now[0] - start[0], now[1] - start[1]


def _old_compose(ref: str, work: Path):
    """generation/compose.py as of git `ref`, imported as its own module (the rest of the tree is today's)."""
    shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:generation/compose.py"], capture_output=True,
                           text=True)
    if shown.returncode != 0:
        raise SystemExit(f"--reference {ref}: git show failed: {shown.stderr.strip()} (or pass --reference none)")
    text = shown.stdout
    path = work / f"compose_{re.sub(r'[^A-Za-z0-9]', '_', ref)}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("reference_compose", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _capture(render, base, spec, mp4: Path, raw: Path) -> None:
    """Render with a hook that writes every frame it sees (the final pixels) to `raw`."""
    with open(raw, "wb") as f:
        def keep(i, frame):
            f.write(frame.data)
            return frame
        render(base, spec, mp4, frame_hook=keep)


def _plain_encode(raw: Path, spec, fps: int, out: Path) -> None:
    """The encoder of generation/compose.py with its settings, fed the frames through the same pipe."""
    from generation import compose
    settings = compose.encoder_settings(fps, crf=20, preset="veryfast", threads=1)
    frame = bytearray(spec.width * spec.height * 3)
    with tempfile.TemporaryFile() as err, open(raw, "rb", buffering=0) as f:
        proc = compose._start_encoder(out, spec.width, spec.height, settings, err)
        while f.readinto(frame) == len(frame):
            proc.stdin.write(frame)
        proc.stdin.close()
        if proc.wait() != 0:
            err.seek(0)
            raise SystemExit(f"plain encode failed: {err.read().decode(errors='replace')}")


def _quality(new: Path, old: Path) -> tuple[str, str]:
    """(PSNR dB, VMAF) of `new` against `old`, as the bundled ffmpeg measures them."""
    def run(lavfi: str) -> str:
        return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(new), "-i", str(old),
                               "-lavfi", lavfi, "-f", "null", "-"], capture_output=True, text=True).stderr
    psnr = re.search(r"PSNR .*? average:(\S+)", run("[0:v][1:v]psnr"))
    vmaf_out = run("[0:v][1:v]libvmaf=n_threads=2") if "libvmaf" in _filters() else ""
    vmaf = re.search(r"VMAF score: (\S+)", vmaf_out)
    return (psnr.group(1) if psnr else "?"), (vmaf.group(1) if vmaf else "n/a")


def _filters() -> str:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-filters"], capture_output=True, text=True).stdout


def floor(args, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    from generation import compose, make_base_clip, render_variant
    from foundation.primitives import sha256_file

    old = _old_compose(args.reference, work) if args.reference != "none" else None
    catalog = load_catalog(args.catalog, known_profiles=known_profiles())
    rows, checks = [], []
    for short in args.short_sides:
        plans = plan_variants(catalog, RenderOptions(short_side=short, fps=args.fps), work / "out")
        sku = args.product or plans[0].spec.sku
        for aspect in args.aspects:
            mine = [p for p in plans if p.spec.sku == sku and p.spec.aspect == aspect][:args.locales]
            if not mine:
                raise SystemExit(f"no {aspect} variants of {sku} in {args.catalog}")
            product = mine[0].product
            base = make_base_clip(product.photo, cache_dir=work / "clips", size=short, fps=args.fps,
                                  duration_s=args.seconds or float(product.duration_s), seed=0)
            # Untimed: the final frames of every variant (also warms fonts and caches), and the reference.
            raws = []
            for k, plan in enumerate(mine):
                raw = work / f"{short}_{aspect.replace(':', 'x')}_{k}.rgb"
                _capture(render_variant, base, plan.spec, work / "new.mp4", raw)
                raws.append(raw)
                if old is not None:
                    _capture(old.render_variant, base, plan.spec, work / "old.mp4", work / "old.rgb")
                    same_frames = sha256_file(raw) == sha256_file(work / "old.rgb")
                    same_bytes = sha256_file(work / "new.mp4") == sha256_file(work / "old.mp4")
                    psnr, vmaf = _quality(work / "new.mp4", work / "old.mp4") if k == 0 or not same_bytes \
                        else ("-", "-")
                    checks.append((f"{aspect} {plan.spec.width}x{plan.spec.height}", plan.spec.locale, same_frames,
                                   same_bytes, psnr, vmaf))
            (work / "old.rgb").unlink(missing_ok=True)
            ours_t, plain_t = [], []
            for rep in range(args.reps):
                def compose_all():
                    compose._DECODED.clips.clear()       # one decode per clip and aspect, inside the timing
                    start = _clock()
                    for plan in mine:
                        render_variant(base, plan.spec, work / "ours.mp4")
                    return _since(start)

                def plain_all():
                    start = _clock()
                    for plan, raw in zip(mine, raws):
                        _plain_encode(raw, plan.spec, args.fps, work / "plain.mp4")
                    return _since(start)
                if rep % 2:                              # ABBA: neither side always runs first
                    plain_t.append(plain_all())
                    ours_t.append(compose_all())
                else:
                    ours_t.append(compose_all())
                    plain_t.append(plain_all())
            for raw in raws:
                raw.unlink()
            n = len(mine)
            wall = [o[0] / p[0] for o, p in zip(ours_t, plain_t)]
            cpu = [o[1] / p[1] for o, p in zip(ours_t, plain_t)]
            rows.append((f"{aspect} {mine[0].spec.width}x{mine[0].spec.height}", n,
                         statistics.median(o[0] for o in ours_t) / n, statistics.median(o[1] for o in ours_t) / n,
                         statistics.median(p[0] for p in plain_t) / n, statistics.median(p[1] for p in plain_t) / n,
                         statistics.median(wall), min(wall), max(wall), statistics.median(cpu), min(cpu), max(cpu)))
            print(f"  measured {rows[-1][0]}", file=sys.stderr)
    print(f"\n{args.reps} repetitions, {args.locales} locale(s) per clip and aspect, product {sku}, "
          f"{args.seconds or 'catalog'} s at {args.fps} fps; per variant, wall s (CPU s):\n")
    print("| variant | variants | compose + encode | plain encode | ratio, wall (min-max) | ratio, CPU (min-max) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, n, ow, oc, pw, pc, rw, rw0, rw1, rc, rc0, rc1 in rows:
        print(f"| {name} | {n} | {ow:.3f} ({oc:.3f}) | {pw:.3f} ({pc:.3f}) | {rw:.2f}x ({rw0:.2f}-{rw1:.2f}) | "
              f"{rc:.2f}x ({rc0:.2f}-{rc1:.2f}) |")
    if checks:
        print(f"\nAgainst generation/compose.py at {args.reference}:\n")
        print("| variant | locale | hook frames identical | file bytes identical | PSNR dB | VMAF |")
        print("| --- | --- | --- | --- | ---: | ---: |")
        for name, locale, frames_same, bytes_same, psnr, vmaf in checks:
            print(f"| {name} | {locale} | {'yes' if frames_same else 'NO'} | {'yes' if bytes_same else 'NO'} | "
                  f"{psnr} | {vmaf} |")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {cpu}, {mem:.0f} GiB, {platform.system()} {platform.release()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", nargs="+", choices=("render", "floor"), default=["render", "floor"])
    ap.add_argument("--catalog", type=Path, default=Path("catalogs/sample"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--aspects", nargs="+", choices=ASPECTS, default=list(ASPECTS), help="floor: aspect ratios")
    ap.add_argument("--short-sides", nargs="+", type=int, default=[720, 1080], help="floor: sizes")
    ap.add_argument("--locales", type=int, default=6, help="floor: variants per clip and aspect (the product's locales)")
    ap.add_argument("--product", help="floor: SKU (default: the catalog's first)")
    ap.add_argument("--reps", type=int, default=3, help="floor: interleaved repetitions")
    ap.add_argument("--seconds", type=float, help="floor: clip length (default: the product's duration)")
    ap.add_argument("--fps", type=int, default=24)
    ap.add_argument("--reference", default="main", help="floor: git ref whose compose.py is compared, or none")
    args = ap.parse_args()
    print(f"machine: {machine()}; load average at start: {os.getloadavg()[0]:.1f}; workers: {args.workers}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "render" in args.sections:
            render_section(args, tmp)
        if "floor" in args.sections:
            floor(args, tmp / "floor")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


def render_section(args, tmp: Path) -> None:
    summary, secs = ours(args.catalog, args.workers, tmp / "home", tmp / "ours")
    n_peer, peer_secs = peer(args.catalog, args.workers, tmp / "peer")
    _, rerun_secs = ours(args.catalog, args.workers, tmp / "home", tmp / "ours")
    print()
    print("| pipeline | variants | seconds | variants/min | signed C2PA | ledger |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    print(f"| tessera render (first run, incl. Prefect start) | {summary.rendered} | {secs:.1f} | "
          f"{60 * summary.rendered / secs:.1f} | yes | yes |")
    print(f"| peer: ffmpeg zoompan+drawtext per variant | {n_peer} | {peer_secs:.1f} | "
          f"{60 * n_peer / peer_secs:.1f} | no | no |")
    print(f"| tessera render, unchanged catalog (all skipped) | 0 | {rerun_secs:.1f} | - | - | - |")
    total = sum(summary.stage_seconds.values())
    print("\n| stage | seconds (summed over workers) | share |")
    print("| --- | ---: | ---: |")
    for stage, s in summary.stage_seconds.items():
        print(f"| {stage} | {s:.1f} | {100 * s / total:.0f}% |")


if __name__ == "__main__":
    main()
