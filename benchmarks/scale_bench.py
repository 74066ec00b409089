"""Catalog scale: N products x M locales x 3 aspect ratios, planned by our code and by a peer commit.

The catalog is generated into --workdir: product n reuses the photo, title and copy of sample
product n % 3 (its headline gets the product number, so headlines differ per product as in a real
catalog; captions, CTA and prices repeat), the locales are --locales real tags (Latin, CJK and
Arabic scripts), each with every aspect ratio. For each size and each code, in a fresh process:

- load: `load_catalog` (products, locales, copy read and validated);
- plan: `plan_variants` (keys, specs, paths of the whole matrix);
- preflight: the text check of every variant (`check_variant_text`); the peer's is timed on its
  first --peer-preflight variants and extrapolated where the matrix is larger (marked "~"), ours
  too with --preflight-sample;
- plan_run: the render's plan (plans again, checks the ledger, records inputs, opens the run);
- re-plan: every variant then recorded as rendered (an asset row per variant, sealed one journal
  event per product, each output a hard link to one small file), and the whole plan again
  (load + plan + preflight + plan_run) finding everything unchanged, with cold caches as a new
  process has them; the preflight there covers what check_run checks (ours: the variants the
  folder does not record, so none; the peer's: all);
- peak RSS of the process.

With --first-variant, `tessera render` of the catalog is also started (by each code) and timed to
its first rendered variant (the process is then stopped).

    .venv/bin/python benchmarks/scale_bench.py [--sizes 12x28 1112x30] [--peer main] [--first-variant]
    .venv/bin/python benchmarks/scale_bench.py --sizes 20000x30      # 1.8M variants
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from startup_bench import peer_code  # noqa: E402  (the peer commit's files, extracted once)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "catalogs" / "sample"
# Real locale tags with fonts, Babel data and a rule profile; the sample's copy of the same language is used.
LOCALES = [("en-US", "USD", "US-CA;US-NY"), ("de-DE", "EUR", "EU"), ("es-MX", "MXN", "MX"), ("ja-JP", "JPY", "JP"),
           ("zh-CN", "CNY", "CN"), ("ar-SA", "SAR", "SA"), ("en-GB", "GBP", "BASELINE"), ("de-AT", "EUR", "EU"),
           ("es-ES", "EUR", "EU"), ("en-IN", "INR", "IN"), ("en-AU", "AUD", "BASELINE"), ("de-CH", "CHF", "BASELINE"),
           ("es-AR", "ARS", "BASELINE"), ("en-CA", "CAD", "BASELINE"), ("es-CO", "COP", "BASELINE"),
           ("en-IE", "EUR", "EU"), ("en-NZ", "NZD", "BASELINE"), ("es-CL", "CLP", "BASELINE"),
           ("en-SG", "SGD", "BASELINE"), ("de-LU", "EUR", "EU"), ("es-PE", "PEN", "BASELINE"),
           ("en-ZA", "ZAR", "BASELINE"), ("ko-KR", "KRW", "KR"), ("en-MT", "EUR", "EU"), ("es-UY", "UYU", "BASELINE"),
           ("en-PH", "PHP", "BASELINE"), ("de-BE", "EUR", "EU"), ("es-CR", "CRC", "BASELINE"),
           ("en-NG", "NGN", "BASELINE"), ("es-PA", "USD", "BASELINE")]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def build_catalog(dest: Path, products: int, locales: int) -> Path:
    """products x locales (x 3 aspect ratios) from the sample, photos and copy reused."""
    from babel.numbers import get_currency_precision

    if (dest / "copy.csv").is_file():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(SAMPLE, dest)
    base, copy = _rows(SAMPLE / "products.csv"), _rows(SAMPLE / "copy.csv")
    by_language = {r["locale"].split("-")[0]: r["locale"] for r in copy}   # language -> a sample locale
    chosen = LOCALES[:locales]
    _write(dest / "locales.csv", [{"tag": tag, "language": tag.split("-")[0], "region": tag.split("-")[1],
                                   "currency": cur, "rule_profile": profile, "aspect_ratios": "9:16;1:1;16:9"}
                                  for tag, cur, profile in chosen])
    sample_copy = {(r["sku"], r["locale"]): r for r in copy}
    out_products, out_copy = [], []
    for n in range(products):
        src = base[n % len(base)]
        sku = f"{src['sku']}-{n:05d}"
        out_products.append(src | {"sku": sku, "duration_s": "2"})
        for tag, cur, _ in chosen:
            row = sample_copy.get((src["sku"], by_language.get(tag.split("-")[0], "en-US")),
                                  sample_copy[(src["sku"], "en-US")])
            price = "" if cur == src["currency"] else (f"{(n % 3 + 2) * 1000}" if get_currency_precision(cur) == 0
                                                       else f"{(n % 3 + 2) * 10 - 0.01:.2f}")
            out_copy.append(row | {"sku": sku, "locale": tag, "headline": f"{row['headline']} {n}", "price": price})
    _write(dest / "products.csv", out_products)
    _write(dest / "copy.csv", out_copy)
    return dest


# -- one code's measurements, in its own process ----------------------------------------------------

def _record_everything(ws, run, plans) -> None:
    """Every planned variant recorded as rendered and sealed, its output a hard link to its product's
    small file (a file system allows some 65,000 links to one file)."""
    import dataclasses
    from datetime import datetime, timezone

    from foundation.primitives import sha256_file
    from pipeline.seal import asset_key, seal_rows
    from provenance.ledger import AssetRecord, assets

    blob = ws.settings.home / "bench-blob.mp4"
    blob.write_bytes(b"scale bench output")
    digest, st = sha256_file(blob), blob.stat()
    has_stat = "size" in {f.name for f in dataclasses.fields(AssetRecord)}
    by_product: dict[str, list] = {}
    for p in plans:
        by_product.setdefault(p.product.sku, []).append(p)
    now = datetime.now(timezone.utc)
    for sku, mine in by_product.items():
        rows = []
        mine[0].output_path.parent.mkdir(parents=True, exist_ok=True)
        product_blob = mine[0].output_path.parent / ".bench-blob"
        shutil.copy2(blob, product_blob)
        for p in mine:
            p.output_path.parent.mkdir(parents=True, exist_ok=True)
            if not p.output_path.exists():
                os.link(product_blob, p.output_path)
            rows.append(dict(asset_id=p.asset_id, variant_key=p.variant_key, run_id=run.run_id, sku=sku,
                             locale=p.spec.locale, aspect=p.spec.aspect, output_path=str(p.output_path),
                             sha256=digest, manifest_label="urn:bench", base_clip_key="bench", status="active",
                             created_at=now, catalog=run.catalog, output_dir=str(run.out_dir),
                             **({"size": st.st_size, "mtime_ns": st.st_mtime_ns} if has_stat else {})))
        with ws.ledger.engine.begin() as c:
            c.execute(assets.insert(), rows)
        seal_rows(ws.journal, ws.ledger.engine, [("asset", asset_key(r["asset_id"], r["output_dir"])) for r in rows])


def measure(args) -> None:
    t_start = time.perf_counter()
    from catalogs import load_catalog
    from compliance.rules import known_profiles
    from generation.compose import check_variant_text
    from generation.plan import RenderOptions, plan_variants
    from pipeline.render import plan_run
    from pipeline.settings import Settings
    from pipeline.workspace import Workspace
    from compliance.decide import rules_digest

    settings = Settings.build(home=args.home, options=RenderOptions(short_side=288), workers=1)
    out: dict[str, object] = {"imports": time.perf_counter() - t_start}

    def will_check(plans: tuple) -> tuple:
        """The variants check_run checks the text of: those this folder does not record (a code
        without provenance.ledger.recorded_keys checks every one)."""
        try:
            from provenance.ledger import recorded_keys
        except ImportError:
            return plans
        recorded = recorded_keys(settings.ledger_url, args.out)
        return tuple(p for p in plans if p.variant_key not in recorded)

    def whole_plan(limit: int | None) -> tuple[object, tuple, dict[str, float]]:
        t: dict[str, float] = {}
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        catalog = load_catalog(args.catalog, known_profiles=known_profiles(settings.rules_dirs))
        t["load"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        plans = plan_variants(catalog, settings.options, args.out,
                              rules_digest=lambda profile: rules_digest(profile, settings.as_of,
                                                                        rules_dir=settings.rules_dirs))
        t["plan"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        todo = will_check(plans)
        checked = todo if limit is None else todo[:limit]
        for p in checked:
            check_variant_text(p.spec)
        t["preflight"] = (time.perf_counter() - t0) * len(todo) / max(1, len(checked))
        t["preflight_extrapolated"] = float(len(checked) < len(todo))
        t["cpu"] = time.process_time() - cpu0      # load + plan + the preflight as run (not extrapolated)
        return catalog, plans, t

    from provenance import load_credentials
    from pipeline.home import open_home
    open_home(settings.home, create=True)
    load_credentials(settings.signing)
    catalog, plans, first = whole_plan(args.preflight_limit)
    out["variants"] = len(plans)
    out |= {f"first_{k}": v for k, v in first.items()}
    if args.plan_only:
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("RESULT " + json.dumps(out))
        return
    ws = Workspace(settings)
    t0, cpu0 = time.perf_counter(), time.process_time()
    run = plan_run(ws, args.catalog, args.out, checked=catalog)
    out["first_plan_run"] = time.perf_counter() - t0
    out["first_cpu"] += time.process_time() - cpu0
    out["todo"] = len(run.todo)
    print("PARTIAL " + json.dumps(out), file=sys.stderr, flush=True)
    if not args.no_replan:
        t0 = time.perf_counter()
        _record_everything(ws, run, run.plans)
        out["record_setup"] = time.perf_counter() - t0
        # A re-render is a new process: nothing measured before may be remembered.
        import generation.compose as compose
        for cached in ("_fit_problem", "format_price"):
            if hasattr(getattr(compose, cached, None), "cache_clear"):
                getattr(compose, cached).cache_clear()
        catalog, plans, again = whole_plan(args.preflight_limit)
        out |= {f"re_{k}": v for k, v in again.items()}
        t0, cpu0 = time.perf_counter(), time.process_time()
        rerun = plan_run(ws, args.catalog, args.out, checked=catalog)
        out["re_plan_run"] = time.perf_counter() - t0
        out["re_cpu"] += time.process_time() - cpu0
        out["re_todo"] = len(rerun.todo)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out))


# -- the comparison ---------------------------------------------------------------------------------

def first_variant(catalog: Path, work: Path, code: Path) -> float | str:
    """Seconds from starting `tessera render` (of `code`) to its first rendered variant (then it is stopped)."""
    env = dict(os.environ, PYTHONPATH=str(code), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_HOME=str(work / "prefect"), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "render", str(catalog), "--out", str(work / "fv-out"),
                             "--home", str(work / "fv-home"), "--short-side", "288", "--workers", "2"],
                            cwd=code, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        for line in proc.stdout:
            if line.startswith("[1/") and "rendered" in line:
                return time.perf_counter() - t0
            seen = (seen + [line])[-30:]
        print(f"{code}: render ended with no variant rendered (exit {proc.wait()}):\n{''.join(seen)}", file=sys.stderr)
        return f"none (exit {proc.returncode}: {seen[-1].strip()[:80] if seen else ''})"
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["12x28", "1112x30"], help="PRODUCTSxLOCALES")
    ap.add_argument("--peer", default="main", help="git ref of the code to compare with ('none': ours only)")
    ap.add_argument("--peer-preflight", type=int, default=3000)
    ap.add_argument("--preflight-sample", type=int, help="ours too: time the preflight on this many variants, extrapolate")
    ap.add_argument("--first-variant", action="store_true")
    ap.add_argument("--no-replan", action="store_true")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/tessera-scale-bench"))
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--catalog", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--preflight-limit", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--plan-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--peer-plan-run-max", type=int, default=20_000,
                    help="above this many variants the peer's plan_run is not run (its 'p not in todo' is quadratic)")
    args = ap.parse_args()
    if args.measure:
        return measure(args)

    codes = {"ours": REPO}
    if args.peer != "none":
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", args.peer], check=True,
                             capture_output=True, text=True).stdout.strip()
        codes[f"peer {rev}"] = peer_code(rev, args.workdir / f"code-{rev}")
    results = []
    for size in args.sizes:
        products, locales = (int(v) for v in size.split("x"))
        catalog = build_catalog(args.workdir / f"catalog-{size}", products, locales)
        for name, code in codes.items():
            slot = args.workdir / f"{size}-{name.replace(' ', '-')}"
            shutil.rmtree(slot, ignore_errors=True)
            cmd = [sys.executable, str(REPO / "benchmarks" / "scale_bench.py"), "--measure", "--catalog", str(catalog),
                   "--out", str(slot / "out"), "--home", str(slot / "home")]
            if name != "ours" or args.preflight_sample:
                cmd += ["--preflight-limit", str(args.preflight_sample if name == "ours" else args.peer_preflight)]
            if name != "ours":
                if products * locales * 3 > args.peer_plan_run_max:
                    cmd.append("--plan-only")
            if args.no_replan:
                cmd.append("--no-replan")
            t0 = time.perf_counter()
            done = subprocess.run(cmd, cwd=code, env=dict(os.environ, PYTHONPATH=str(code)), capture_output=True,
                                  text=True)
            if done.returncode != 0:
                raise SystemExit(f"{name} {size} failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.split("RESULT ", 1)[1])
            result |= {"code": name, "size": size, "wall": time.perf_counter() - t0}
            if args.first_variant:
                result["first_variant"] = first_variant(catalog, slot, code)
            results.append(result)
            print(f"{size} {name}: {json.dumps(result)}", file=sys.stderr)

    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
          f"load average {', '.join(f'{v:.1f}' for v in os.getloadavg())} at the end\n")
    print("| catalog | code | variants | load s | plan s | preflight s | plan_run s | whole plan s (CPU s) "
          "| re-plan s (CPU s), unchanged | peak RSS MiB | first variant s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        mark = "~" if r["first_preflight_extrapolated"] else ""
        if "first_plan_run" not in r:
            print(f"| {r['size']} x 3 | {r['code']} | {r['variants']:,} | {r['first_load']:.1f} | {r['first_plan']:.1f} "
                  f"| {mark}{r['first_preflight']:.1f} | not run | - | - | {r['peak_rss_mib']:.0f} | - |")
            continue
        whole = r["first_load"] + r["first_plan"] + r["first_preflight"] + r["first_plan_run"]
        replan = (f"{'~' if r['re_preflight_extrapolated'] else ''}"
                  f"{r['re_load'] + r['re_plan'] + r['re_preflight'] + r['re_plan_run']:.1f} ({r['re_cpu']:.1f}), "
                  f"{r['re_todo']} to render"
                  if "re_plan_run" in r else "-")
        fv = r.get("first_variant", "-")
        fv = f"{fv:.1f}" if isinstance(fv, float) else fv
        print(f"| {r['size']} x 3 | {r['code']} | {r['variants']:,} | {r['first_load']:.1f} | {r['first_plan']:.1f} "
              f"| {mark}{r['first_preflight']:.1f} | {r['first_plan_run']:.1f} | {mark}{whole:.1f} ({r['first_cpu']:.1f}) "
              f"| {replan} "
              f"| {r['peak_rss_mib']:.0f} | {fv} |")


if __name__ == "__main__":
    main()
