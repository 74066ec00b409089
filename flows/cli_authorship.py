"""`tessera authorship ...` and the candidate-pick commands of `tessera review`."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

from flows.cli_common import _settings, home_option, ledger_option, shown


def _workspace(home, ledger):
    from pipeline.workspace import Workspace

    return Workspace(_settings(home, ledger))


def _journal(home, ledger):
    ws = _workspace(home, ledger)
    return ws.journal, ws.settings


@click.group()
def authorship() -> None:
    """The authorship record: verify the journal, report an asset's human contributions, replay it.

    \b
    Examples:
      tessera authorship verify
      tessera authorship report tsr-3f2a... --format md > authorship.md
      tessera authorship replay tsr-3f2a...
    """


@authorship.command()
@home_option
@ledger_option
def verify(home, ledger):
    """Recompute the journal's hash chain and head signature, then compare every ledger row
    (assets, manifest copies, soft bindings, registry entries) with its seal in the journal;
    name the first altered event and every altered, missing or unsealed row.

    Exit status: 0 intact (a ledger made before seals is reported, not failed), 1 otherwise.

    \b
    Examples:
      tessera authorship verify
      tessera authorship verify --ledger postgresql+psycopg://tessera@db/tessera
    """
    from pipeline.seal import verify_ledger

    journal, _ = _journal(home, ledger)
    result = journal.verify()
    if not result.ok:
        where = f"event seq {result.first_bad_seq}" if result.first_bad_seq is not None else "journal head"
        click.echo(f"journal NOT intact at {where}: {result.problem}", err=True)
        sys.exit(1)
    head = journal.head()
    click.echo(f"journal intact: {head.seq if head else 0} events, head {head.hash[:16] if head else '-'}")
    integrity = verify_ledger(journal, journal.engine)
    if integrity.problems:
        click.echo(integrity.summary(), err=True)
        for problem in integrity.problems:
            click.echo(f"  {shown(problem.text)}", err=True)
        sys.exit(1)
    click.echo(integrity.summary())


@authorship.command()
@click.argument("asset_id")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@home_option
@ledger_option
def report(asset_id, fmt, home, ledger):
    """Human contributions, AI-generated or machine-written material to exclude, third-party material (the
    photo with its owner and licence), material of unknown origin, and the process evidence of ASSET_ID,
    each decision at the time it was made (docs/compliance.md, "Authorship report").

    \b
    Examples:
      tessera authorship report tsr-3f2a9c0d1e4b5a6978877665 > authorship.md
      tessera authorship report tsr-3f2a9c0d1e4b5a6978877665 --format json
    """
    from compliance.authorship import authorship_report

    journal, _ = _journal(home, ledger)
    try:
        click.echo(authorship_report(journal, asset_id, fmt=fmt))
    except (KeyError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@authorship.command()
@click.argument("asset_id")
@home_option
@ledger_option
def replay(asset_id, home, ledger):
    """Re-render ASSET_ID's footage from the journal alone and compare it frame by frame.

    \b
    Examples:
      tessera authorship replay tsr-3f2a9c0d1e4b5a6978877665
    """
    from compliance.authorship import replay_check
    from generation.replay import rerender_take

    journal, _ = _journal(home, ledger)
    with tempfile.TemporaryDirectory(prefix="tessera-replay-") as tmp:
        result = replay_check(journal, asset_id, lambda params: rerender_take(params, Path(tmp)))
    click.echo(("match: " if result.match else "MISMATCH: ") + result.detail)
    sys.exit(0 if result.match else 1)


@click.command("takes")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@ledger_option
def takes(as_json, home, ledger):
    """List candidate sets (a product's takes), their contact sheets and whether a person picked one.

    \b
    Examples:
      tessera review takes
    """
    from pipeline.takes import candidate_sets

    rows = [{"set": s.set_id, "sku": s.sku, "takes": len(s.takes), "sheet": str(s.sheet), "picked": _picked(s.picked)}
            for s in candidate_sets(_workspace(home, ledger))]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        state = (f"picked take {r['picked']['candidate']} by {r['picked']['by']} at {r['picked']['at']}"
                 if r["picked"] else "awaiting a pick")
        click.echo(f"{r['set']}  {r['sku']:20} {r['takes']} takes  {state}\n    sheet: {r['sheet']}")
    if not rows:
        click.echo("no candidate sets (render with --candidates K to make some)")


@click.command("show")
@click.argument("candidate_set")
@click.option("--candidate", type=int, help="Only this take (0-based, as on the contact sheet).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@ledger_option
def show(candidate_set, candidate, as_json, home, ledger):
    """Show a candidate set: its contact sheet and each take's generation parameters and web preview.

    \b
    Examples:
      tessera review show 4be0c1d2a3f49876
      tessera review show 4be0c1d2a3f49876 --candidate 2 --json
    """
    from pipeline.takes import TakeError, take_set

    try:
        set_ = take_set(_workspace(home, ledger), candidate_set)
        takes_ = [set_.take(candidate)] if candidate is not None else list(set_.takes)
    except TakeError as exc:
        raise click.ClickException(str(exc)) from None
    doc = {"set": candidate_set, "sku": set_.sku, "sheet": str(set_.sheet), "picked": _picked(set_.picked),
           "takes": takes_}
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    pick_ = set_.picked
    state = f"take {pick_.candidate} picked by {pick_.actor}" if pick_ else "awaiting a pick"
    click.echo(f"{candidate_set}  {set_.sku}  {state}\nsheet: {doc['sheet']} (one row per take)")
    for t in takes_:
        params = ", ".join(f"{k}={v}" for k, v in sorted(t["params"].items()))
        preview = f"  preview: {set_.folder / t['preview']}" if t.get("preview") else ""
        click.echo(f"take {t['take']}: {t['backend']}  {params}{preview}")


def _picked(pick) -> dict | None:
    """A person's pick as listed: which take, by whom, why, and when they made it (UTC)."""
    if pick is None:
        return None
    return {"candidate": pick.candidate, "by": pick.actor, "reason": pick.reason,
            "at": pick.at.isoformat(timespec="seconds") if pick.at else None}


@click.command("pick")
@click.argument("candidate_set")
@click.option("--candidate", required=True, type=int, help="The take to use (0-based, as on the contact sheet).")
@click.option("--by", "actor", required=True, help="Reviewer's name (recorded in the journal).")
@click.option("--reason", default="", help="Why this take (recorded).")
@home_option
@ledger_option
def pick(candidate_set, candidate, actor, reason, home, ledger):
    """Pick one take of CANDIDATE_SET as a person; the others are recorded as rejected.

    The next render uses it for every variant of that product.

    \b
    Examples:
      tessera review pick 4be0c1d2a3f49876 --candidate 2 --by "Mei Chen" --reason "cleanest crema"
    """
    from pipeline.takes import TakeError, pick_take

    try:
        set_ = pick_take(_workspace(home, ledger), candidate_set, candidate, by=actor, reason=reason)
    except TakeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"recorded: {actor} picked take {candidate} of {len(set_.takes)} in {candidate_set}; "
               f"render again to publish it")


@click.command("reject-take")
@click.argument("candidate_set")
@click.option("--candidate", required=True, type=int, help="The take to turn down (0-based, as on the contact sheet).")
@click.option("--by", "actor", required=True, help="Reviewer's name (recorded in the journal).")
@click.option("--reason", required=True, help="Why not this take (recorded).")
@home_option
@ledger_option
def reject_take(candidate_set, candidate, actor, reason, home, ledger):
    """Turn one take of CANDIDATE_SET down as a person, with a reason, without picking another yet.

    The picked take cannot be rejected: pick another take instead.

    \b
    Examples:
      tessera review reject-take 4be0c1d2a3f49876 --candidate 5 --by "Mei Chen" --reason "label warps at 1 s"
    """
    from pipeline.takes import TakeError, reject_take as reject

    try:
        reject(_workspace(home, ledger), candidate_set, candidate, by=actor, reason=reason)
    except TakeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"recorded: {actor} rejected take {candidate} of {candidate_set}")


@click.command("edit")
@click.argument("catalog", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("sku")
@click.argument("locale")
@click.option("--field", required=True, type=click.Choice(["headline", "cta", "captions"]))
@click.option("--text", required=True, help="The new text (captions: lines separated by ' | ').")
@click.option("--by", "actor", required=True,
              help="Editor's name: the journal records the edit as this person's, at this time.")
@click.option("--note", default="", help="Why (recorded).")
@home_option
@ledger_option
def edit(catalog, sku, locale, field, text, actor, note, home, ledger):
    """Edit one overlay copy field of SKU in LOCALE as a person: the catalog row is rewritten and the
    edit journaled as NAME's; the next render re-renders exactly that locale's variants of SKU. The row's
    copy_author stays: the authorship report shows the author's text and the person's edit of it.

    \b
    Examples:
      tessera review edit catalogs/mine ESP-BLEND-1KG de-DE --field headline --text "Frisch geröstet" --by "Jonas Weber"
    """
    from catalogs import CatalogError
    from catalogs.edit import catalog_locale, set_copy_field
    from compliance.record import record_human_edit

    if not actor.strip():
        raise click.ClickException("--by: the editor's name is empty")
    journal, _ = _journal(home, ledger)
    try:
        locale = catalog_locale(catalog, locale)     # any case, journaled as the catalog spells it
        before = set_copy_field(catalog, sku, locale, field, text)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    record_human_edit(journal, sku=sku, locale=locale, field=field, before=before, after=text, actor=actor, note=note)
    click.echo(f"recorded: {actor} changed {field} of {sku} {locale}: {before!r} -> {text!r}")
