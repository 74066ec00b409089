"""Start-up: an unchanged re-render of the demo catalog, ours against an older commit, in one run.

Setup (once per code, kept in --workdir): the demo catalog (catalogs/sample: 3 products x 6
locales x 3 aspect ratios, 54 variants) with --seconds clips, rendered for real at --short-side
into a home and output folder of that code's own (each code keeps its own ledger schema).
Measured: `python -m flows.cli render` of the unchanged catalog, as a user runs it (interpreter
start, imports, catalog check, text preflight, plan, ledger and intact-file check, summary), the
current code and the peer commit alternately, --reps times each; wall and CPU time (user + sys of
the child process).

    .venv/bin/python benchmarks/startup_bench.py [--peer main] [--reps 3] [--workdir /tmp/tessera-startup-bench]
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import resource
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "catalogs" / "sample"


def demo_catalog(dest: Path, seconds: float) -> Path:
    """The sample catalog with every clip `seconds` long (the same 54 variants)."""
    if dest.exists():
        return dest
    shutil.copytree(SAMPLE, dest)
    with (dest / "products.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    with (dest / "products.csv").open("w", encoding="utf-8", newline="") as f:
        fields = list(rows[0]) + (["duration_s"] if "duration_s" not in rows[0] else [])
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows([r | {"duration_s": str(seconds)} for r in rows])
    return dest


def peer_code(ref: str, dest: Path) -> Path:
    """The tracked files of commit `ref`, extracted once."""
    if not dest.exists():
        data = subprocess.run(["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True).stdout
        dest.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, filter="data")
    return dest


def render(code: Path, catalog: Path, work: Path, short_side: int, env: dict[str, str]) -> tuple[float, float, str]:
    """One `tessera render` through the CLI of `code`: wall s, CPU s (user + sys), its last line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flows.cli", "render", str(catalog), "--out", str(work / "out"),
                           "--home", str(work / "home"), "--short-side", str(short_side), "--workers", "2"],
                          cwd=code, env=env | {"PYTHONPATH": str(code)}, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"render with {code} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    last = (done.stdout.strip().splitlines() or [""])[-1]
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", default="main", help="git ref of the code to compare with")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--short-side", type=int, default=288)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/tessera-startup-bench"))
    args = ap.parse_args()

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    peer_rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", args.peer], check=True,
                              capture_output=True, text=True).stdout.strip()
    codes = {"ours": REPO, f"peer {peer_rev}": peer_code(peer_rev, work / f"code-{peer_rev}")}
    catalog = demo_catalog(work / "catalog", args.seconds)
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_HOME=str(work / "prefect"),
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180")

    # 1. Setup: each code renders the catalog once into its own home and output folder.
    for name, code in codes.items():
        slot = work / name.replace(" ", "-")
        if not (slot / "rendered").exists():
            wall, cpu, last = render(code, catalog, slot, args.short_side, env)
            print(f"setup {name}: {wall:.1f} s ({last})", file=sys.stderr)
            (slot / "rendered").touch()

    # 2. The unchanged re-render, alternately.
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in codes}
    loads = [os.getloadavg()[0]]
    for _ in range(args.reps):
        for name, code in codes.items():
            wall, cpu, last = render(code, catalog, work / name.replace(" ", "-"), args.short_side, env)
            if "nothing to render" not in last:
                raise SystemExit(f"{name}: the re-render was not empty: {last}")
            times[name].append((wall, cpu))
        loads.append(os.getloadavg()[0])

    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}; load average (1 min) {min(loads):.1f}-{max(loads):.1f}")
    print(f"catalog: the demo (54 variants), {args.seconds:g} s clips, short side {args.short_side}; "
          f"{args.reps} alternating runs each\n")
    print("| code | wall s | CPU s (user+sys) | median wall s |")
    print("| --- | ---: | ---: | ---: |")
    for name, runs in times.items():
        walls = sorted(w for w, _ in runs)
        print(f"| {name} | {', '.join(f'{w:.2f}' for w, _ in runs)} | {', '.join(f'{c:.2f}' for _, c in runs)} "
              f"| {walls[len(walls) // 2]:.2f} |")


if __name__ == "__main__":
    main()
