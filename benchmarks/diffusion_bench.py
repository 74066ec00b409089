"""Diffusion base clips: seconds per clip and peak memory for each speed-up, and what reuse saves.

Part 1, speed-ups: for each size (480p and 720p pixel areas, generated square: 624x624 and
960x960) one clip is generated with no speed-up and with each speed-up alone (VAE tiling,
cpu offload, regional compile, first-block cache, pyramid attention broadcast). Peak memory
is torch.cuda.max_memory_allocated on CUDA, and the peak resident set size of this process
(sampled every 5 ms from /proc) on CPU: torch's CPU tensors are invisible to tracemalloc.
Compiled rows get one untimed warm-up clip first (compilation is a one-off per run).

Part 2, peer in the same run: from-scratch generation, one diffusion call per product x
locale x aspect ratio (N*M*3 calls), against Tessera's locale-agnostic base clip, generated
once per product and reused by every locale and aspect (N calls, the rest are cache hits).

Without --model it builds the tiny random-weight Wan T2V pipeline of
tests/generation/tiny_models.py into a temp folder and loads it from disk, which proves the
code path on CPU (the numbers then say nothing about a real model's speed).

    .venv/bin/python benchmarks/diffusion_bench.py                        # CPU, tiny model
    .venv/bin/python benchmarks/diffusion_bench.py --device cuda \\
        --model Wan-AI/Wan2.1-T2V-1.3B-Diffusers --revision <40-hex commit> --steps 30 --frames 81
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "generation"))

from generation.diffusion import DiffusionBackend, DiffusionSettings, resolve_device  # noqa: E402
from generation.prompts import render_prompt  # noqa: E402

SIZES = {"480p": 624, "720p": 960}          # square sides with the pixel area of 832x480 and 1280x720
ASPECTS = ("9:16", "1:1", "16:9")
SPEEDUPS = {
    "none": {},
    "vae_tiling": {"vae_tiling": True},
    "cpu_offload": {"cpu_offload": True},
    "compile": {"compile": True},
    "first_block cache": {"cache": "first_block"},
    "pyramid_attention_broadcast": {"cache": "pyramid_attention_broadcast"},
}
NEGATIVE = "text, watermark, blurry, low quality"


class PeakRSS:
    """Peak resident set size of this process while the block runs (Linux /proc)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.005)

    def __enter__(self) -> "PeakRSS":
        self.peak = self._rss()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def product_prompt(i: int) -> tuple[str, str]:
    rendered = render_prompt(
        "product_hero",
        {"title": f"Trail Runner {i}", "description": f"a light running shoe, model {i}", "category": "shoe"},
        {"name": "Northwind", "style": "bright, minimal", "colors": "teal and white"},
        {"setting": "a clean studio", "season": "any season", "talent": "no people in frame"},
    )
    return rendered.prompt, rendered.negative_prompt


def timed_clip(backend: DiffusionBackend, cache_dir: Path, seed: int) -> tuple[float, float]:
    """(seconds, peak MiB) for one generated clip (a cache miss)."""
    prompt, negative = product_prompt(0)
    if backend.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        backend.make_base_clip(prompt=prompt, negative_prompt=negative, image=None, seed=seed, cache_dir=cache_dir)
        torch.cuda.synchronize()
        return time.perf_counter() - start, torch.cuda.max_memory_allocated() / 2**20
    with PeakRSS() as rss:
        start = time.perf_counter()
        backend.make_base_clip(prompt=prompt, negative_prompt=negative, image=None, seed=seed, cache_dir=cache_dir)
        seconds = time.perf_counter() - start
    return seconds, rss.peak / 2**20


def release() -> None:
    """Free what the last backend held (call after dropping the last reference to it)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def bench_speedups(base: DiffusionSettings, sizes: list[str], names: list[str], work: Path) -> list[str]:
    rows = ["| size | generated | speed-up | s / clip | peak memory (MiB) | x vs none |", "|---|---|---:|---:|---:|---:|"]
    for size_name in sizes:
        side = SIZES[size_name]
        baseline = None
        for name in names:
            settings = replace(base, width=side, height=side, size=side, **SPEEDUPS[name])
            if settings.cpu_offload and resolve_device(settings.device) != "cuda":
                rows.append(f"| {size_name} | {side}x{side} | {name} | n/a (needs CUDA) | | |")
                continue
            backend = DiffusionBackend(settings)
            if settings.compile:
                timed_clip(backend, work / f"warm-{size_name}-{name}", seed=0)
            seconds, peak = timed_clip(backend, work / f"{size_name}-{name}", seed=1)
            del backend
            release()
            baseline = seconds if name == "none" else baseline
            ratio = f"{baseline / seconds:.2f}" if baseline else ""
            rows.append(f"| {size_name} | {side}x{side} | {name} | {seconds:.2f} | {peak:.0f} | {ratio} |")
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def bench_reuse(settings: DiffusionSettings, products: int, locales: int, work: Path) -> list[str]:
    backend = DiffusionBackend(settings)
    prompts = [product_prompt(i) for i in range(products)]
    # one untimed clip first, so neither approach pays the first call's warm-up
    backend.make_base_clip(prompt="warm-up", negative_prompt="", image=None, seed=0, cache_dir=work / "warm-reuse")
    runs: dict[str, tuple[int, float]] = {}
    for mode in ("from scratch", "base-clip reuse"):
        before, start = backend.generations_run, time.perf_counter()
        for p, (prompt, negative) in enumerate(prompts):
            for loc in range(locales):
                for aspect in ASPECTS:
                    # from scratch: every variant is its own generation (its own cache folder)
                    cache = work / ("reuse" if mode == "base-clip reuse" else f"scratch-{p}-{loc}-{aspect.replace(':', 'x')}")
                    backend.make_base_clip(prompt=prompt, negative_prompt=negative, image=None, seed=p, cache_dir=cache)
        runs[mode] = (backend.generations_run - before, time.perf_counter() - start)
    del backend
    release()
    (scratch_calls, scratch_s), (reuse_calls, reuse_s) = runs["from scratch"], runs["base-clip reuse"]
    variants = products * locales * len(ASPECTS)
    return [
        f"| approach ({products} products x {locales} locales x {len(ASPECTS)} aspects = {variants} variants) "
        "| generation calls | seconds | s / variant |",
        "|---|---:|---:|---:|",
        f"| from scratch (peer) | {scratch_calls} | {scratch_s:.1f} | {scratch_s / variants:.2f} |",
        f"| base-clip reuse (Tessera) | {reuse_calls} | {reuse_s:.1f} | {reuse_s / variants:.2f} |",
        f"| **ratio** | **{scratch_calls / reuse_calls:.1f}x fewer** | **{scratch_s / reuse_s:.1f}x faster** | |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="hub id or local folder (default: build the tiny test model)")
    parser.add_argument("--revision", help="pinned commit for a hub id")
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--dtype", help="default bfloat16 on CUDA, float32 on CPU")
    parser.add_argument("--steps", type=int, help="default 30 on CUDA, 2 on CPU")
    parser.add_argument("--frames", type=int, help="default 81 on CUDA, 5 on CPU")
    parser.add_argument("--sizes", default="480p,720p", help=f"comma list of {list(SIZES)}")
    parser.add_argument("--speedups", default=",".join(SPEEDUPS), help=f"comma list of {list(SPEEDUPS)}")
    parser.add_argument("--products", type=int, default=5)
    parser.add_argument("--locales", type=int, default=6)
    parser.add_argument("--reuse-side", type=int, help="square side for the reuse run (default 624 on CUDA, 32 on CPU)")
    args = parser.parse_args()

    device = resolve_device(args.device)
    cuda = device == "cuda"
    with tempfile.TemporaryDirectory(prefix="tessera-diffusion-bench-") as tmp:
        work = Path(tmp)
        model = args.model
        if model is None:
            from tiny_models import build_tiny_wan_t2v

            model = str(build_tiny_wan_t2v(work / "tiny-wan-t2v"))
        base = DiffusionSettings(
            model=model, revision=args.revision, task="t2v", device=device,
            dtype=args.dtype or ("bfloat16" if cuda else "float32"),
            num_inference_steps=args.steps or (30 if cuda else 2),
            num_frames=args.frames or (81 if cuda else 5), fps=16,
        )
        started = time.perf_counter()
        speed_rows = bench_speedups(base, args.sizes.split(","), args.speedups.split(","), work)
        side = args.reuse_side or (624 if cuda else 32)
        reuse_rows = bench_reuse(replace(base, width=side, height=side, size=side), args.products, args.locales, work)
        elapsed = time.perf_counter() - started

    gpu = torch.cuda.get_device_name() if cuda else f"CPU ({os.cpu_count()} cores, {platform.machine()})"
    print(f"## Diffusion base clips: {'tiny random-weight Wan T2V (tests/generation/tiny_models.py)' if args.model is None else model}\n")
    print(f"device {gpu}, dtype {base.dtype}, {base.num_inference_steps} steps, {base.num_frames} frames, "
          f"torch {torch.__version__}; total {elapsed:.0f} s\n")
    print("\n".join(speed_rows))
    print(f"\nReuse, every clip {side}x{side}, {base.num_frames} frames, {base.num_inference_steps} steps:\n")
    print("\n".join(reuse_rows))


if __name__ == "__main__":
    main()
