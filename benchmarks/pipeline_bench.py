"""Variants per minute for the demo catalog, and the share of time per stage.

Peer, in the same run: the usual shell-script approach, one ffmpeg command per variant
(zoompan for the camera move, drawtext for the copy; no base-clip reuse, no signing,
no ledger), run with the same number of parallel workers.

    .venv/bin/python benchmarks/pipeline_bench.py [--catalog catalogs/sample] [--workers 2]
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
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
                    "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                    "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(out)], check=True)


def peer(catalog: Path, workers: int, out: Path) -> tuple[int, float]:
    plans = plan_variants(load_catalog(catalog, known_profiles=known_profiles()), RenderOptions(), out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda p: peer_variant(p, out / p.output_path.name, RenderOptions().fps), plans))
    return len(plans), time.perf_counter() - t0


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {cpu}, {mem:.0f} GiB, {platform.system()} {platform.release()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", type=Path, default=Path("catalogs/sample"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        summary, secs = ours(args.catalog, args.workers, tmp / "home", tmp / "ours")
        n_peer, peer_secs = peer(args.catalog, args.workers, tmp / "peer")
        _, rerun_secs = ours(args.catalog, args.workers, tmp / "home", tmp / "ours")
    print(f"machine: {machine()}; workers: {args.workers}\n")
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
