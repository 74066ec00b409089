"""The `tessera` command: thin commands over the library (each a few lines of wiring)."""
from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path

import click


from flows.cli_common import (
    _plan_table, _quiet_prefect, _settings, candidates_option, home_option, ledger_option, short_side_option,
    verbose_option,
)


@click.group()
@click.version_option(package_name="tessera")
def cli() -> None:
    """Tessera: localized video ads with signed provenance, and an audit for any media.

    \b
    Examples:
      tessera render catalogs/sample --out out
      tessera render catalogs/mine --out ads --dry-run
      tessera audit out --json > audit.json
      tessera review takes
      tessera COMMAND --help
    """


@cli.command()
@click.argument("catalog", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder for signed variants.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout (progress goes to stderr).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Variants composed at once.")
@short_side_option
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), help="Render as of this date (region rules in force then).")
@candidates_option
@click.option("--require-review", is_flag=True,
              help="Publish nothing unattended: a person picks a take (with --candidates > 1, tessera review pick) "
                   "and approves each variant (tessera review approve).")
@click.option("--backend", type=click.Choice(["motion", "diffusers"]), default="motion", show_default=True,
              help="motion: camera moves over product photos (CPU). diffusers: a video diffusion model (GPU).")
@click.option("--model", help="diffusers: hub id (with --revision) or local folder of the pipeline.")
@click.option("--revision", help="diffusers: pinned 40-hex commit of a hub model.")
@click.option("--task", type=click.Choice(["i2v", "t2v"]), default="i2v", show_default=True,
              help="diffusers: image-to-video from the product photo, or text-to-video.")
@click.option("--steps", default=30, show_default=True, type=click.IntRange(1, 200), help="diffusers: inference steps.")
@click.option("--frames", default=81, show_default=True, type=click.IntRange(1, 1000), help="diffusers: frames per clip.")
@click.option("--gen-size", default="624x624", show_default=True, help="diffusers: generation WIDTHxHEIGHT.")
@click.option("--dtype", type=click.Choice(["bfloat16", "float16", "float32"]), default="bfloat16", show_default=True)
@click.option("--device", type=click.Choice(["auto", "cuda", "cpu"]), default="auto", show_default=True)
@click.option("--speedup", multiple=True, type=click.Choice(["cpu-offload", "vae-tiling", "compile", "first-block-cache",
              "pyramid-attention-broadcast"]), help="diffusers: speed/memory options (repeatable); each is recorded.")
@click.option("--cert-chain", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Production PEM certificate chain (leaf first).")
@click.option("--private-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Production PEM private key.")
@click.option("--tsa-url", help="RFC 3161 time-stamp authority URL.")
@click.option("--allow-insecure-key", is_flag=True,
              help="Sign with a production key file that group or others can read (refused otherwise).")
@click.option("--dry-run", is_flag=True, help="Print the plan (per variant: render, skip or retire, and why) and render nothing.")
@click.option("--sku", "skus", multiple=True, help="Only this product (repeatable). Nothing else is rendered or retired.")
@click.option("--locale", "locales", multiple=True, help="Only this locale tag, any case (repeatable).")
@verbose_option
@click.option("--rules-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of your own rule profiles (<PROFILE>.json, the schema of docs/compliance.md), read with "
                   "the package's and the home's rules/ folder.")
@home_option
@ledger_option
def render(catalog, out_dir, as_json, workers, short_side, as_of, candidates, require_review, backend, model, revision, task, steps, frames,
           gen_size, dtype, device, speedup, cert_chain, private_key, tsa_url, allow_insecure_key, dry_run, skus, locales,
           verbose, rules_dir, home, ledger):
    """Render every product x locale x aspect ratio of CATALOG into signed MP4 variants.

    Unchanged variants (same inputs, file intact) are skipped. The catalog, rules, credentials and
    the fit of every text are checked before anything starts.

    Exit status: 0 when every variant was rendered, skipped or waits for a person (a pick or an
    approval; the summary prints the command to run next), 1 when a variant failed or the input is
    invalid, 3 when none failed but the compliance gate blocked one, 2 for usage errors.

    \b
    Examples:
      tessera render catalogs/sample --out out
      tessera render catalogs/mine --out ads --workers 4 --json > summary.json
      tessera render catalogs/mine --out ads --dry-run
      tessera render catalogs/mine --out ads --sku ESP-BLEND-1KG --locale de-DE --dry-run --json
      tessera render catalogs/mine --out ads --candidates 4 --require-review
      tessera render catalogs/mine --out ads --cert-chain chain.pem --private-key key.pem
      tessera render catalogs/mine --out ads --rules-dir my-rules     # my-rules/TH.json for a th-TH locale
      tessera render catalogs/mine --out ads --backend diffusers \\
          --model Wan-AI/Wan2.1-I2V-14B-480P-Diffusers --revision <commit> --speedup first-block-cache
    """
    _quiet_prefect(verbose)
    from generation.plan import RenderOptions
    from pipeline.check import check_run, expected_errors

    diffusion = None
    if backend == "diffusers":
        diffusion = _diffusion_settings(model, revision, task, steps, frames, gen_size, dtype, device, speedup,
                                        size=short_side)
    options = RenderOptions(short_side=short_side, backend=backend, diffusion=diffusion, candidates=candidates,
                            require_review=require_review)
    settings = _settings(home, ledger, defer_create=True, cert_chain=cert_chain, private_key=private_key,
                         tsa_url=tsa_url, allow_insecure_key=allow_insecure_key, options=options, workers=workers,
                         as_of=(as_of.date() if as_of else date.today()), rules_dir=rules_dir)
    # 1. Everything the input can get wrong, before Prefect starts: one clean message, exit 1.
    try:
        checked = check_run(settings, catalog, out_dir)
    except expected_errors() as exc:
        raise click.ClickException(str(exc)) from None
    only = _selection(checked, skus, locales)
    if dry_run:
        from pipeline.render import preview_run
        from pipeline.workspace import Workspace
        lines = preview_run(Workspace(settings), checked, out_dir, only)
        click.echo(json.dumps([asdict(line) for line in lines], indent=2, ensure_ascii=False) if as_json
                   else _plan_table(lines))
        return

    # 2. The flow (Prefect is imported only now); what can still go wrong in it is the host's or a variant's.
    from flows.gpu import GpuLimitMissing
    from flows.start import run_render
    from pipeline.lock import RenderLocked

    from flows.cli_progress import TerminalBar, progress_for

    # On a terminal a bar redrawn in place (rate, time left, generation steps); else plain lines on stderr.
    progress = progress_for(as_json=as_json)
    try:
        summary = run_render(catalog, out_dir, settings, progress=progress, checked=checked, only=only)
    except (*expected_errors(), GpuLimitMissing, RenderLocked) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if isinstance(progress, TerminalBar):
            progress.close()
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        click.echo(_summary_table(summary))
    sys.exit(_exit_status(summary))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per file (docs/audit-json.md).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the audit to this file: .html (one self-contained page, thumbnails inlined) or .csv.")
@click.option("--region", help="Check labels against this rule profile (EU, CN, US-CA, US-NY, KR, IN, ...); "
                               "default: the profile our ledger or manifest records for the file.")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), help="Rules in force on this date (default today).")
@click.option("--time-limit", default=120.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Seconds one file's audit may take; beyond it the file is a fail row.")
@click.option("--memory-limit", default=4096, show_default=True, type=click.IntRange(min=1),
              help="MiB of memory one file's audit may add; beyond it the file is a fail row.")
@click.option("--trust-anchors", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="PEM bundle of trusted roots (C2PA trust list format); files chaining to one read Trusted. "
                   "Default: the home's (tessera trust set).")
@click.option("--trust-config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="EKUs allowed on signing certificates, one OID a line (c2pa trust_config format; c2pa also applies its own certificate profile). "
                   "Default: the home's, else C2PA's default list.")
@click.option("--rules-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of your own rule profiles (<PROFILE>.json, the schema of docs/compliance.md), read with "
                   "the package's and the home's rules/ folder.")
@home_option
@ledger_option
def audit(paths, as_json, report, region, as_of, time_limit, memory_limit, trust_anchors, trust_config, rules_dir, home,
          ledger):
    """Audit media files or folders: C2PA state, source type, signer, ledger match, verdict.

    Every media file, and every entry that cannot be read as one (FIFO, device, symlink loop,
    unreadable folder), gets one row, each within the time and memory limits. The ledger's
    seals are checked first: a file whose ledger row was altered, deleted or forged fails
    naming the row; any other ledger problem is one more fail row, for the ledger.

    Exit status: 0 when no file fails, 1 when any fails, 2 for usage errors (an unknown
    --region, a missing or read-only home, a ledger that cannot be opened, a --report
    that is not .html or .csv or cannot be written).

    \b
    Examples:
      tessera audit out
      tessera audit suspicious.mp4 downloads/ --json > audit.json
      tessera audit out --report audit.html
      tessera audit reupload.mp4 --region CN --as-of 2026-09-01
      tessera audit downloads/ --time-limit 30 --memory-limit 2048
      tessera audit out --trust-anchors production-root.pem
    """
    from compliance import GateError, Limits, exit_code
    from compliance.rules import RuleFileError
    from pipeline.audit import audit as run_audit
    from flows.cli_common import SetupError, home_config, open_workspace
    from compliance.report import ReportError, report_format, write_report
    from provenance import CredentialError

    if report is not None:
        try:
            report_format(report)   # an unknown extension is a usage error before any file is read
        except ReportError as exc:
            raise click.BadParameter(str(exc), param_hint="--report") from None
    config = home_config(home)
    settings = _settings(home, ledger, create_home=False, trust_anchors=trust_anchors or config.trust_anchors,
                         trust_config=trust_config or config.trust_config, rules_dir=rules_dir)
    ws = open_workspace(settings)
    try:
        ws.trust_list   # a bad anchor or EKU file is an error before any file is read
        records = run_audit(ws, list(paths), region=region, as_of=as_of.date() if as_of else None,
                            limits=Limits(seconds=time_limit, memory_mb=memory_limit))
    except GateError as exc:
        raise click.UsageError(str(exc)) from None
    except RuleFileError as exc:
        raise click.ClickException(str(exc)) from None
    except CredentialError as exc:
        raise SetupError(str(exc)) from None
    if report is not None:
        try:
            write_report(report, records, command=shlex.join(["tessera", *sys.argv[1:]]))
        except OSError as exc:
            raise SetupError(f"cannot write the report {str(report)!r}: {exc.strerror or exc}") from None
    if as_json:
        # A name with undecodable bytes holds lone surrogates: written as JSON \\uDCxx escapes
        text = json.dumps([r.to_dict() for r in records], indent=2, ensure_ascii=False)
        click.echo(text.encode("utf-8", "backslashreplace").decode("utf-8"))
    else:
        click.echo(_audit_table(records))
    sys.exit(exit_code(records))


def _selection(catalog, skus, locales):
    """The --sku / --locale filters, each checked against the catalog (a name it lacks is a usage error)."""
    from pipeline.render import Selection
    known_skus, known_locales = {p.sku for p in catalog.products}, {loc.tag.lower() for loc in catalog.locales}
    for sku in skus:
        if sku not in known_skus:
            raise click.BadParameter(f"{sku!r} is not a product of the catalog ({', '.join(sorted(known_skus))})",
                                     param_hint="--sku")
    for tag in locales:
        if tag.lower() not in known_locales:
            raise click.BadParameter(f"{tag!r} is not a locale of the catalog ({', '.join(sorted(known_locales))})",
                                     param_hint="--locale")
    return Selection(frozenset(skus), frozenset(locales))


CACHE_FLAGS = {"first-block-cache": "first_block", "pyramid-attention-broadcast": "pyramid_attention_broadcast"}


def _diffusion_settings(model, revision, task, steps, frames, gen_size, dtype, device, speedup, size):
    from generation.diffusion import DiffusionSettings, check_settings

    if not model:
        raise click.UsageError("--backend diffusers needs --model (a hub id with --revision, or a local folder)")
    try:
        width, height = (int(v) for v in gen_size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{gen_size!r}: expected WIDTHxHEIGHT, e.g. 624x624", param_hint="--gen-size")
    caches = [CACHE_FLAGS[s] for s in speedup if s in CACHE_FLAGS]
    if len(caches) > 1:
        raise click.BadParameter(f"pick one cache, got {caches}", param_hint="--speedup")
    settings = DiffusionSettings(
        model=model, revision=revision, task=task, dtype=dtype, device=device, num_inference_steps=steps,
        width=width, height=height, num_frames=frames, cpu_offload="cpu-offload" in speedup,
        vae_tiling="vae-tiling" in speedup, compile="compile" in speedup, cache=caches[0] if caches else None,
        size=size)
    try:
        check_settings(settings)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    return settings


# What a person runs next for each kind of variant that waits (printed when its count is not zero).
NEXT_COMMAND = {"awaiting_pick": "tessera review takes", "review": "tessera review list",
                "blocked": "tessera review list --blocked"}
SUMMARY_COLUMNS = (("rendered", "rendered"), ("skipped", "skipped"), ("blocked", "blocked"),
                   ("awaiting_pick", "awaiting pick"), ("review", "review"), ("failed", "failed"))


def _exit_status(s) -> int:
    """1: a variant failed; 3: none failed but the gate blocked one; 0: the rest (pending ones included)."""
    return 1 if s.failed else 3 if s.blocked else 0


def _summary_table(s) -> str:
    counts = {key: getattr(s, key) for key, _ in SUMMARY_COLUMNS}
    planned = sum(counts.values())
    if planned != len(s.outcomes):
        raise RuntimeError(f"summary counts {counts} add up to {planned}, but {len(s.outcomes)} variants were planned")
    widths = [max(len(label), 5) for _, label in SUMMARY_COLUMNS]
    lines = [" ".join(f"{label:>{w}}" for (_, label), w in zip(SUMMARY_COLUMNS, widths)) + f" {'planned':>7} {'time':>8}",
             " ".join(f"{counts[key]:>{w}}" for (key, _), w in zip(SUMMARY_COLUMNS, widths))
             + f" {planned:>7} {s.seconds:>7.1f}s"]
    total = sum(s.stage_seconds.values()) or 1.0
    if s.rendered:
        lines.append("stage share: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in s.stage_seconds.items()))
    lines += [f"{o.status.value}: {o.sku} {o.locale} {o.aspect}: {o.reason}" for o in s.outcomes
              if o.status.value in ("failed", "review", "blocked")]
    if s.skipped == planned:
        lines.append("nothing to render: every variant is unchanged and intact")
    lines += [f"next: {command}   ({counts[key]} {dict(SUMMARY_COLUMNS)[key]})"
              for key, command in NEXT_COMMAND.items() if counts[key]]
    return "\n".join(lines)


def _audit_table(records) -> str:
    from flows.cli_common import shown
    from pipeline.audit import audit_counts

    rows = [f"{'verdict':7} {'c2pa':8} {'asset':30} path"]
    for r in records:
        d = r.to_dict()
        asset = d["asset_id"] or (f"{d['recovery']['asset_id']} (recovered)" if d["recovered"]
                                  else "- (similar content)" if d["similar_to"] else "-")
        # names and problems may hold terminal escapes or newlines (any file can be audited): escaped
        rows.append(f"{d['verdict']:7} {d['c2pa_state']:8} {shown(asset):30} {shown(d['path'])}")
        rows += [f"{'':17}- {shown(p)}" for p in d["problems"]]
        if d["trust_anchor"]:
            rows.append(f"{'':17}  signed by {shown(d['signer'])}, trusted by anchor {shown(d['trust_anchor'])}")
        if d["development_signer"]:
            rows.append(f"{'':17}  development signer (trusted in its own home only)")
    counts = audit_counts(records)
    rows.append(f"{len(records)} files: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail")
    return "\n".join(rows)


def _register() -> None:
    # Commands of other areas live in their own modules; registered here, imported lazily by click.
    from flows.cli_authorship import authorship, edit, pick, reject_take, show, takes
    from flows.cli_compliance import COMPLIANCE_COMMANDS, review
    from flows.cli_home import HOME_COMMANDS
    from flows.cli_ops import OPS_COMMANDS
    from flows.cli_ui import ui

    for command in (*COMPLIANCE_COMMANDS, *OPS_COMMANDS, *HOME_COMMANDS, authorship, ui):
        cli.add_command(command)
    review.add_command(takes)
    review.add_command(show)
    review.add_command(pick)
    review.add_command(reject_take)
    review.add_command(edit)


_register()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
