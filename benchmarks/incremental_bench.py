"""Time to plan and skip ~1,000 unchanged variants: what a quiet night costs.

Setup (once, cached in --workdir): a catalog of the sample's 3 products copied under new
SKUs (--products in all) x the 6 sample locales x 3 aspect ratios, rendered for real
(2-second clips at --short-side px), so every variant has a ledger entry and a signed file.

Measured, in one run under one Prefect server (its start-up is timed apart):
- ours: `run_render` on the unchanged catalog: load, plan, ledger check (key recorded and
  file re-hashed), nothing rendered.
- ours without Prefect: the same plan + ledger check as plain function calls.
- peer: Prefect's own task caching making the same decision: one task per variant with a
  custom cache key (the variant key), a second run in which every task is a cache hit.
  Its first run (which fills the cache) is timed too. The peer does not check that the
  output file still exists and is unchanged; ours does.

    .venv/bin/python benchmarks/incremental_bench.py [--products 56] [--workdir /tmp/tessera-incremental-bench]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pandas as pd  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "catalogs" / "sample"


def build_catalog(dest: Path, products: int) -> Path:
    """The sample catalog with `products` products (the 3 sample ones under numbered SKUs), 2-second clips."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(SAMPLE, dest)
    base = pd.read_csv(SAMPLE / "products.csv", dtype=str, keep_default_na=False)
    copy = pd.read_csv(SAMPLE / "copy.csv", dtype=str, keep_default_na=False)
    rows, copy_rows = [], []
    for n in range(products):
        src = base.iloc[n % len(base)]
        sku = f"{src['sku']}-{n:03d}"
        rows.append(src.to_dict() | {"sku": sku, "duration_s": "2"})
        copy_rows += [r | {"sku": sku} for r in copy[copy["sku"] == src["sku"]].to_dict("records")]
    pd.DataFrame(rows).to_csv(dest / "products.csv", index=False)
    pd.DataFrame(copy_rows).to_csv(dest / "copy.csv", index=False)
    return dest


def ours_in_flow(catalog: Path, out: Path, settings):
    from flows.render import run_render
    t0 = time.perf_counter()
    summary = run_render(catalog, out, settings, progress=lambda _: None)
    return time.perf_counter() - t0, summary


def plan(catalog: Path, out: Path, settings):
    """The variant plans as render_catalog makes them (keys include the rules in force; no
    reviewer picks exist in this bench)."""
    from catalogs import load_catalog
    from compliance import rules_digest
    from compliance.rules import known_profiles
    from generation.plan import plan_variants

    return plan_variants(load_catalog(catalog, known_profiles=known_profiles()), settings.options, out,
                         rules_digest=lambda profile: rules_digest(profile, settings.as_of))


def ours_plain(catalog: Path, out: Path, settings) -> tuple[float, int, int]:
    from provenance.ledger import Ledger

    t0 = time.perf_counter()
    plans = plan(catalog, out, settings)
    ledger = Ledger(settings.ledger_url)
    intact = sum(ledger.is_intact(p.variant_key, p.output_path) for p in plans)
    return time.perf_counter() - t0, len(plans), intact


def peer_flow(workers: int):
    """Prefect-native skipping: one task per variant, cached on the variant key across runs."""
    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner

    @task(cache_key_fn=lambda _ctx, params: params["variant_key"], persist_result=True)
    def variant(variant_key: str, output_path: str) -> str:
        # A real peer would render here; the renders exist already, so the first run only fills the cache.
        if not Path(output_path).is_file():
            raise FileNotFoundError(output_path)
        return output_path

    @flow(name="peer-cached-variants", validate_parameters=False, task_runner=ThreadPoolTaskRunner(max_workers=workers))
    def cached_variants(catalog: Path, out: Path, settings) -> dict[str, int]:
        plans = plan(catalog, out, settings)
        futures = [variant.submit(p.variant_key, str(p.output_path)) for p in plans]
        for future in futures:
            future.wait()
        states = [f.state for f in futures]
        return {"variants": len(plans), "cached": sum(s.name == "Cached" for s in states),
                "completed": sum(s.is_completed() for s in states)}

    return cached_variants


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--products", type=int, default=56, help="products (x 6 locales x 3 aspects = variants)")
    ap.add_argument("--short-side", type=int, default=288, help="288: the smallest size at which every sample locale passes the text check")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--settle", type=float, default=20.0, help="seconds between the peer's fill and timed run")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/tessera-incremental-bench"))
    args = ap.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    # Prefect state of this bench stays in the workdir; the peer's cache starts empty every time.
    os.environ["PREFECT_HOME"] = str(work / "prefect-home")
    os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(work / "peer-cache")
    shutil.rmtree(work / "peer-cache", ignore_errors=True)

    from prefect.testing.utilities import prefect_test_harness

    from pipeline.settings import Settings
    from generation.plan import RenderOptions

    catalog = build_catalog(work / "catalog", args.products)
    out = work / "out"
    settings = Settings.build(home=work / "home", options=RenderOptions(short_side=args.short_side),
                              workers=args.workers)

    t0 = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=180):
        startup = time.perf_counter() - t0
        # Setup: render every variant for real (only what is missing, when the workdir is reused).
        setup_s, setup = ours_in_flow(catalog, out, settings)
        print(f"setup: {setup.rendered} rendered, {setup.skipped} already there, {setup.failed} failed "
              f"in {setup_s:.0f} s")
        if setup.failed:
            raise SystemExit(f"setup failed: {[o.reason for o in setup.outcomes if o.status == 'failed'][:3]}")
        # Measured runs, catalog unchanged. Ours first: the peer's 1,000 task runs leave the server
        # busy with their events for a while, which would slow whatever runs after them.
        ours_s, summary = ours_in_flow(catalog, out, settings)
        plain_s, planned, intact = ours_plain(catalog, out, settings)
        peer = peer_flow(args.workers)
        fill_s0 = time.perf_counter()
        peer(catalog, out, settings)
        fill_s = time.perf_counter() - fill_s0
        time.sleep(args.settle)     # the filled cache is from "last night": let the server catch up first
        peer_s0 = time.perf_counter()
        peer_result = peer(catalog, out, settings)
        peer_s = time.perf_counter() - peer_s0

    n = summary.skipped + summary.rendered + summary.failed
    assert summary.rendered == 0 and summary.skipped == n == planned == intact, (
        f"not a quiet night: {summary.rendered} rendered, {summary.skipped} skipped, {summary.failed} failed; "
        f"{intact} of {planned} intact in the ledger")
    assert peer_result["cached"] == peer_result["variants"] == n, peer_result
    print(f"\n{n} unchanged variants ({args.products} products x 6 locales x 3 aspects), "
          f"{os.cpu_count()} CPUs, {platform.python_version()}, Prefect server start-up {startup:.1f} s "
          f"(not counted below)\n")
    print("| method | skip decision | variants skipped | seconds | ms / variant |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, how, secs in (
        ("Tessera `run_render` (Prefect flow)", "ledger key + file re-hash", ours_s),
        ("Tessera plan + ledger check, no Prefect", "ledger key + file re-hash", plain_s),
        ("peer: Prefect task cache, custom cache key", "cache record per task", peer_s),
        ("peer: first run, fills the cache", "(no skip: runs every task)", fill_s),
    ):
        print(f"| {name} | {how} | {n} | {secs:.2f} | {1000 * secs / n:.2f} |")
    print(f"\nOurs inside the flow: plan stage {summary.stage_seconds.get('plan', 0):.2f} s of {ours_s:.2f} s.")


if __name__ == "__main__":
    main()
