"""`tessera recheck` of every published asset of a rendered home, against plain decodes of the same files.

  ours          = pipeline.recheck.recheck on the home, as the command runs it after start-up (face models
                  loaded, registries opened): one assessment per base clip, a decision per asset; with the
                  registries and rules unchanged nothing is withdrawn, so the home is left as it was
  floor (clips) = a plain full decode (rgb24, native size) of the base clips the recheck reads, and nothing else
  floor (files) = a plain full decode of every published file: what any recheck that looked at each
                  published file would at least cost

Target: the 54 assets of the sample catalog in under a minute. Prints a markdown table.

Setup, once (a rendered home; the sample catalog takes a few minutes):
    PYTHONPATH=. .venv/bin/tessera render catalogs/sample --out /tmp/rb/out --home /tmp/rb/home
    PYTHONPATH=. .venv/bin/python benchmarks/recheck_bench.py --home /tmp/rb/home
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foundation.frames import read_clip  # noqa: E402
from pipeline.recheck import recheck  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.workspace import Workspace  # noqa: E402


def decode_all(paths: list[Path]) -> tuple[float, int]:
    """Seconds to decode every frame of each file, and the frames decoded."""
    t, frames = time.perf_counter(), 0
    for path in paths:
        frames += sum(1 for _ in read_clip(path))
    return time.perf_counter() - t, frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", type=Path, required=True, help="a rendered Tessera home (see the setup above)")
    args = ap.parse_args()
    settings = Settings.build(home=args.home)
    ws = Workspace(settings)
    assets = ws.ledger.active_assets()
    if not assets:
        raise SystemExit(f"{args.home}: no published assets (render a catalog into it first)")
    files = [a.output_path for a in assets if a.output_path.is_file()]
    clips = sorted({settings.clip_cache / f"{a.base_clip_key}.mp4" for a in assets} & set(settings.clip_cache.glob("*.mp4")))

    t0 = time.perf_counter()
    _ = ws.face_models, ws.registries                 # what the command loads before the first asset
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    checked, withdrawn = recheck(ws)
    t_ours = time.perf_counter() - t0
    if withdrawn:
        raise SystemExit(f"{len(withdrawn)} assets were withdrawn: benchmark a home whose registries are unchanged")
    t_clips, n_clips = decode_all(clips)
    t_files, n_files = decode_all(files)

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    print(f"machine: {cpu}, nproc {os.cpu_count()}, load average at end {os.getloadavg()[0]:.1f} (shared machine)")
    print(f"home {args.home}: {len(assets)} published assets, {len(clips)} base clips in the clip cache\n")
    print("| what | files decoded | frames | seconds | per asset (s) |")
    print("|---|---|---|---|---|")
    print(f"| ours: recheck ({checked} assets, {len(withdrawn)} withdrawn) | {len(clips)} base clips | - | "
          f"{t_ours:.1f} (+ {t_load:.1f} loading models) | {t_ours / max(checked, 1):.2f} |")
    print(f"| floor: plain decode of the base clips | {len(clips)} | {n_clips} | {t_clips:.1f} | "
          f"{t_clips / len(assets):.2f} |")
    print(f"| floor: plain decode of every published file | {len(files)} | {n_files} | {t_files:.1f} | "
          f"{t_files / len(assets):.2f} |")
    print(f"\ntarget (54 sample assets under 60 s): {'met' if t_ours + t_load < 60 else 'NOT met'} "
          f"({t_ours + t_load:.1f} s with model loading)")


if __name__ == "__main__":
    main()
