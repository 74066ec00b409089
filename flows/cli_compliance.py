"""Compliance commands of `tessera`: the likeness and protected-works registries, and the review queue.

Registered on the main group in flows/cli.py with `cli.add_command(...)` for each command in
COMPLIANCE_COMMANDS. Thin wiring over compliance.registry, compliance.protected_works and
compliance.holds; the registries live in the ledger database (--ledger / the home's SQLite).
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from flows.cli_common import _settings, home_option, ledger_option


def _workspace(home, ledger):
    from pipeline.workspace import Workspace
    return Workspace(_settings(home, ledger))


def _engine(home, ledger):
    return _workspace(home, ledger).ledger.engine


def _seal(ws, kind: str, entry_id: int) -> None:
    """Seal the registry entry just added or removed in the journal (see pipeline.seal)."""
    from pipeline.seal import seal_rows

    seal_rows(ws.journal, ws.ledger.engine, [(kind, str(entry_id))])


def _echo_json(value) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


# ---------------------------------------------------------------------------------------- likeness


@click.group()
def likeness() -> None:
    """Watch-list and consent records of real people's faces (embeddings only, never photos).

    \b
    Examples:
      tessera likeness add "Jane Doe" jane.jpg --watch --reason "no endorsement deal" --by legal@acme
      tessera likeness add "Model A" model_a.jpg --consent --regions EU,US-CA --expires 2027-06-30 --record-ref release-0042.pdf
      tessera likeness list --json
      tessera likeness remove 3 --watch
    """


@likeness.command("add")
@click.argument("name")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--watch/--consent", "watch", required=True,
              help="--watch: never show this person; --consent: may be shown within the consent's scope.")
@click.option("--regions", help="consent: rule profiles or markets it covers, comma separated (EU,US-CA,DE).")
@click.option("--products", default="*", show_default=True, help="consent: SKUs it covers, comma separated, or *.")
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), help="consent: last day it covers.")
@click.option("--record-ref", help="consent: where the signed release lives.")
@click.option("--reason", help="watch: why this person must not appear.")
@click.option("--by", "added_by", help="watch: who adds the entry.")
@home_option
@ledger_option
def likeness_add(name, photo, watch, regions, products, expires, record_ref, reason, added_by, home, ledger):
    """Register the one face in PHOTO under NAME, on the watch-list or as a consent record.

    \b
    Examples:
      tessera likeness add "Jane Doe" jane.jpg --watch --reason "public figure, no endorsement" --by legal@acme
      tessera likeness add "Model A" a.jpg --consent --regions CN,EU --products SKU-1,SKU-2 --expires 2027-06-30 --record-ref release-7.pdf
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from compliance.likeness import LikenessModelError, NoSingleFaceError, face_embedding
    from compliance.registry import LikenessRegistry

    if watch and not (reason and added_by):
        raise click.UsageError("--watch needs --reason and --by")
    if not watch and not (regions and expires and record_ref):
        raise click.UsageError("--consent needs --regions, --expires and --record-ref")
    try:
        with Image.open(photo) as img:
            pixels = np.asarray(img.convert("RGB"))
        vec = face_embedding(pixels)
    except (OSError, UnidentifiedImageError) as exc:
        raise click.ClickException(f"{photo}: not a readable image: {exc}") from None
    except (NoSingleFaceError, LikenessModelError) as exc:
        raise click.ClickException(f"{photo}: {exc}") from None
    ws = _workspace(home, ledger)
    registry = LikenessRegistry(ws.ledger.engine)
    try:
        if watch:
            entry = registry.add_watch(name, vec, reason=reason, added_by=added_by)
        else:
            entry = registry.add_consent(name, vec, regions=regions, products=products, expires_on=expires.date(),
                                         record_ref=record_ref)
    except (ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    _seal(ws, "watch" if watch else "consent", entry)
    click.echo(f"{'watch' if watch else 'consent'} #{entry}: {name}")


@likeness.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (no embeddings).")
@home_option
@ledger_option
def likeness_list(as_json, home, ledger):
    """List the watch-list and the consent records.

    \b
    Examples:
      tessera likeness list
      tessera likeness list --json > people.json
    """
    from compliance.registry import LikenessRegistry

    registry = LikenessRegistry(_engine(home, ledger))
    rows = [{"kind": "watch", "id": w.id, "name": w.name, "reason": w.reason, "added_by": w.added_by,
             "added_at": w.added_at} for w in registry.list("watch")]
    rows += [{"kind": "consent", "id": c.id, "name": c.name, "regions": list(c.regions), "products": list(c.products),
              "expires_on": c.expires_on, "record_ref": c.record_ref} for c in registry.list("consent")]
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        scope = (f"reason: {r['reason']} (by {r['added_by']})" if r["kind"] == "watch" else
                 f"regions {','.join(r['regions'])}, products {','.join(r['products'])}, until {r['expires_on']}, "
                 f"{r['record_ref']}")
        click.echo(f"{r['kind']:7} #{r['id']:<4} {r['name']}: {scope}")
    click.echo(f"{sum(r['kind'] == 'watch' for r in rows)} watch-list, {sum(r['kind'] == 'consent' for r in rows)} consent")


@likeness.command("remove")
@click.argument("entry_id", type=int)
@click.option("--watch/--consent", "watch", required=True, help="Which registry the id is in.")
@home_option
@ledger_option
def likeness_remove(entry_id, watch, home, ledger):
    """Remove one watch-list entry or consent record by its id.

    \b
    Examples:
      tessera likeness remove 3 --watch
      tessera likeness remove 12 --consent
    """
    from compliance.registry import LikenessRegistry

    kind = "watch" if watch else "consent"
    ws = _workspace(home, ledger)
    try:
        LikenessRegistry(ws.ledger.engine).remove(kind, entry_id)
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    _seal(ws, kind, entry_id)
    click.echo(f"removed {kind} #{entry_id}")


# ---------------------------------------------------------------------------------------- protected works


@click.group()
def protected() -> None:
    """Protected works (artworks, photos, key visuals we may not show), kept as perceptual hashes.

    \b
    Examples:
      tessera protected add poster.png --title "Festival poster 2026" --owner "Studio X"
      tessera protected list
      tessera protected remove 2
    """


@protected.command("add")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", required=True, help="Title of the work.")
@click.option("--owner", required=True, help="Who holds the rights.")
@home_option
@ledger_option
def protected_add(image, title, owner, home, ledger):
    """Register IMAGE as a protected work: a variant showing it (or a crop of it) is blocked.

    \b
    Examples:
      tessera protected add poster.png --title "Festival poster 2026" --owner "Studio X"
    """
    from compliance.protected_works import ProtectedWorkError, ProtectedWorksRegistry

    ws = _workspace(home, ledger)
    try:
        work = ProtectedWorksRegistry(ws.ledger.engine).add_work(image, title, owner)
    except (ProtectedWorkError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    _seal(ws, "protected_work", work)
    click.echo(f"protected work #{work}: {title} ({owner})")


@protected.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (no hashes).")
@home_option
@ledger_option
def protected_list(as_json, home, ledger):
    """List the protected works.

    \b
    Examples:
      tessera protected list
      tessera protected list --json
    """
    from compliance.protected_works import ProtectedWorksRegistry

    rows = [{"id": w.id, "title": w.title, "owner": w.owner, "views": len(w.phashes), "added_at": w.added_at}
            for w in ProtectedWorksRegistry(_engine(home, ledger)).list()]
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        click.echo(f"#{r['id']:<4} {r['title']} ({r['owner']}), {r['views']} views")
    click.echo(f"{len(rows)} protected works")


@protected.command("remove")
@click.argument("work_id", type=int)
@home_option
@ledger_option
def protected_remove(work_id, home, ledger):
    """Remove a protected work by its id.

    \b
    Examples:
      tessera protected remove 2
    """
    from compliance.protected_works import ProtectedWorksRegistry

    ws = _workspace(home, ledger)
    try:
        ProtectedWorksRegistry(ws.ledger.engine).remove(work_id)
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    _seal(ws, "protected_work", work_id)
    click.echo(f"removed protected work #{work_id}")


# ---------------------------------------------------------------------------------------- review queue


@click.group()
def review() -> None:
    """Variants held for a human decision (uncertain likeness matches), and blocked ones.

    \b
    Examples:
      tessera review list
      tessera review approve tsr-3f2a... --by "Dana Lee" --reason "checked the release, it is Model A"
      tessera review reject tsr-3f2a... --by "Dana Lee" --reason "looks like a celebrity"
    """


@review.command("list")
@click.option("--blocked", is_flag=True, help="List the quarantine (blocked variants) instead.")
@click.option("--sku", help="Only this SKU (any case).")
@click.option("--locale", help="Only this locale (any case).")
@click.option("--aspect", help="Only this aspect ratio (9:16, 1:1, 16:9).")
@click.option("--reason", help="Only variants held for a reason containing this text (any case).")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@home_option
@ledger_option
def review_list(blocked, sku, locale, aspect, reason, as_json, home, ledger):
    """List variants waiting for review (or, with --blocked, the quarantined ones), their SKU, locale and
    aspect, and why.

    \b
    Examples:
      tessera review list
      tessera review list --locale ar-SA --reason likeness
      tessera review list --blocked --json > blocked.json
    """
    from compliance import ReviewError
    from pipeline.review import blocked_now, held_variants

    ws = _workspace(home, ledger)
    try:
        if blocked:
            rows = [(i, "", "", "") for i in blocked_now(ws)]
        else:
            rows = [(h.item, h.sku, h.locale, h.aspect)
                    for h in held_variants(ws, sku=sku, locale=locale, aspect=aspect, reason=reason)]
    except ReviewError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _echo_json([i.report for i, *_ in rows])
        return
    for i, sku_, locale_, aspect_ in rows:
        where = f"  {sku_} {locale_} {aspect_}" if sku_ else ""
        click.echo(f"{i.status:8} {i.asset_id}{where}  {i.media}")
        for why in i.reasons:
            click.echo(f"{'':10}- {why}")
    click.echo(f"{len(rows)} {'blocked' if blocked else 'waiting for review'}")


def _decide(action: str, assets, by: str, reason: str, home, ledger) -> None:
    """approve/reject: each asset decided through pipeline.review; exit 1 when any could not be."""
    from compliance import ReviewError
    from pipeline.review import Approved, decide_held
    from provenance import CredentialError

    try:
        decided = decide_held(_workspace(home, ledger), action, list(assets), by=by, reason=reason)
    except (ReviewError, CredentialError) as exc:
        raise click.ClickException(str(exc)) from None
    for d in decided:
        if isinstance(d.done, Approved):
            click.echo(f"approved by {d.done.by}; signed and published {d.done.output_path}")
        elif d.done is not None:
            click.echo(f"rejected by {d.done.by}; quarantined {d.done.quarantined}")
        else:
            click.echo(f"Error: {d.error}", err=True)
    if any(d.done is None for d in decided):
        raise SystemExit(1)


@review.command("approve")
@click.argument("assets", nargs=-1, required=True, metavar="ASSET_OR_FILE...")
@click.option("--by", "by", required=True, help="Your name: recorded as the approver.")
@click.option("--reason", default="", help="Why it may ship.")
@home_option
@ledger_option
def review_approve(assets, by, reason, home, ledger):
    """Approve held variants: record who approved each, then sign it into its output path and record it.

    Each ASSET_OR_FILE is an asset id or a held file. Blocked variants cannot be approved. Exit 1 when
    any of them could not be approved (the others are).

    \b
    Examples:
      tessera review approve tsr-3f2a9c0d1e2f3a4b5c6d7e8f --by "Dana Lee" --reason "release on file"
      tessera review approve tsr-3f2a... tsr-77b1... --by "Dana Lee"
      tessera review approve ~/.tessera/review/tsr-3f2a9c0d1e2f3a4b5c6d7e8f.mp4 --by "Dana Lee"
    """
    _decide("approve", assets, by, reason, home, ledger)


@review.command("reject")
@click.argument("assets", nargs=-1, required=True, metavar="ASSET_OR_FILE...")
@click.option("--by", "by", required=True, help="Your name: recorded as the reviewer.")
@click.option("--reason", required=True, help="Why it must not ship.")
@home_option
@ledger_option
def review_reject(assets, by, reason, home, ledger):
    """Reject held variants: each moves to the quarantine, unsigned, with your decision in its report.

    \b
    Examples:
      tessera review reject tsr-3f2a9c0d1e2f3a4b5c6d7e8f --by "Dana Lee" --reason "resembles a celebrity"
    """
    _decide("reject", assets, by, reason, home, ledger)


@click.command()
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Consents and rules as of this date (default today).")
@click.option("--json", "as_json", is_flag=True, help="Print what was rechecked and withdrawn as JSON.")
@home_option
@ledger_option
def recheck(as_of, as_json, home, ledger):
    """Re-assess every published asset against today's registries and rules, without re-rendering.

    An asset that now shows a watch-listed face, a face whose consent expired or does not cover it, a
    registered protected work, or that lacks a label a rule now in force requires, is withdrawn in the
    ledger (tessera audit then fails it) and the withdrawal is journalled. Its file is moved to the
    home's quarantine/withdrawn/ folder, or, in a home set with `tessera withdrawal set takedown-list`,
    left in place and added to the home's takedown.json. Exit 0 when none was withdrawn, 1 when any
    was, 2 for usage errors and a missing home.

    \b
    Examples:
      tessera recheck
      tessera recheck --as-of 2027-07-01 --json > withdrawn.json
      tessera recheck --home /srv/tessera
    """
    from flows.cli_common import open_workspace
    from pipeline.recheck import RecheckError, recheck as run_recheck, report_json
    from provenance import CredentialError

    ws = open_workspace(_settings(home, ledger, create_home=False))   # a mistyped --home is an error
    try:
        checked, withdrawn = run_recheck(ws, as_of=as_of.date() if as_of else None)
    except (RecheckError, CredentialError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(report_json(checked, withdrawn))
    else:
        for w in withdrawn:
            click.echo(f"withdrawn {w.asset_id}  {w.path}")
            for reason in w.reasons:
                click.echo(f"{'':10}- {reason}")
            click.echo(f"{'':10}{w.disposition}" + (f": {w.moved_to}" if w.moved_to else ""))
        click.echo(f"{checked} rechecked, {len(withdrawn)} withdrawn")
    if withdrawn:
        raise SystemExit(1)


COMPLIANCE_COMMANDS = (likeness, protected, review, recheck)
