"""What every `tessera` command shares: the home, the ledger URL and the settings they make."""
from __future__ import annotations

import os
from pathlib import Path

import click


def _home(home: str | None) -> Path:
    return Path(home or os.environ.get("TESSERA_HOME") or Path.home() / ".tessera")


class SetupError(click.ClickException):
    """A home, ledger or trust setting the command cannot use: one line, exit 2 (like a usage error)."""
    exit_code = 2


def _settings(home, ledger, *, create_home: bool = True, defer_create: bool = False, **kwargs):
    """The run's settings; the home is checked first (create_home=False: it must exist, as for an audit;
    defer_create: a missing home is made later, once the input has been checked, as by a render)."""
    from pipeline.home import HomeError, open_home
    from pipeline.settings import Settings
    from provenance import CredentialError

    try:
        if not (defer_create and not _home(home).exists()):
            open_home(_home(home), create=create_home)
        return Settings.build(home=_home(home), ledger_url=ledger or os.environ.get("TESSERA_LEDGER_URL"), **kwargs)
    except (HomeError, CredentialError) as exc:
        raise SetupError(str(exc)) from None


def home_config(home):
    """The home's stored configuration (tessera trust set); a garbled one is one line, exit 2."""
    from pipeline.home import HomeError, read_config

    try:
        return read_config(_home(home))
    except HomeError as exc:
        raise SetupError(str(exc)) from None


def open_workspace(settings):
    """The run's workspace; a ledger that cannot be opened is one line naming it (password hidden), exit 2."""
    from sqlalchemy.exc import SQLAlchemyError

    from pipeline.workspace import Workspace
    from provenance.ledger import redacted_url

    try:
        return Workspace(settings)
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise SetupError(f"cannot open the ledger {redacted_url(settings.ledger_url)}: {reason}") from None


def shown(text: str) -> str:
    """Text safe for a terminal: control characters, escapes and undecodable bytes as backslash escapes."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for ch in str(text))


def _quiet_prefect(verbose: bool = False, *, server_logs: bool = False) -> None:
    """The CLI prints its own progress and errors: Prefect's logging (its server start, task states, its
    copy of a failed flow's traceback) reaches the terminal only with --verbose. Explicit env settings win.
    server_logs: the runs are a Prefect server's (nightly, serve), whose log keeps every line; only the
    terminal is kept quiet. Otherwise (render, on its own ephemeral server) nothing is sent to it."""
    # An offline tool sends no usage data, and Prefect's first-run telemetry notice stays off the terminal.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if server_logs:
        if not verbose:
            os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
        return
    level = "INFO" if verbose else "CRITICAL"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", level)
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", level)
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")


def _plan_table(lines) -> str:
    """A dry run's plan (pipeline.render.PlannedVariant lines) as a table, with its counts."""
    rows = [f"{'action':7} {'sku':16} {'locale':7} {'aspect':6} reason"]
    rows += [f"{p.action:7} {p.sku:16} {p.locale:7} {p.aspect:6} {p.reason}" for p in lines]
    counts = {a: sum(p.action == a for p in lines) for a in ("render", "skip", "retire")}
    rows.append(f"{len(lines)} variants: {counts['render']} to render, {counts['skip']} to skip, "
                f"{counts['retire']} to retire (dry run: nothing rendered or written)")
    return "\n".join(rows)


def machine_timezone() -> str:
    """This machine's IANA time zone ($TZ, /etc/timezone, or the zone /etc/localtime links to); UTC when
    it names none. A schedule's default, so a nightly run is at night where it runs."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    timezone_file = Path("/etc/timezone")
    if timezone_file.is_file():
        candidates.append(timezone_file.read_text(encoding="utf-8").strip())
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        parts = localtime.resolve().parts
        if "zoneinfo" in parts:
            candidates.append("/".join(parts[parts.index("zoneinfo") + 1:]))
    for name in candidates:
        if not name or name.startswith("/"):
            continue
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return name
    return "UTC"


# One definition for every command that renders: the same name, range and default everywhere.
SHORT_SIDE_MIN = 288   # the smallest short side that fits every layout
short_side_option = click.option(
    "--short-side", default=720, show_default=True, type=click.IntRange(SHORT_SIDE_MIN, 2160),
    help=f"Short side of every output, in pixels ({SHORT_SIDE_MIN} is the smallest that fits every layout).")
MAX_CANDIDATES = 100  # a director's selection among 40-100 takes; previews and the sheet are sized for it
candidates_option = click.option(
    "--candidates", default=1, show_default=True, type=click.IntRange(1, MAX_CANDIDATES),
    help="Takes per product base clip (seeds seed..seed+K-1), with a contact sheet and web previews to compare "
         "them (tessera ui); an unattended pick is recorded as automatic.")
verbose_option = click.option("--verbose", is_flag=True,
                              help="Show Prefect's own logging (its server, flow and task runs) on the terminal as well.")
home_option = click.option("--home", type=click.Path(file_okay=False), help="Tessera home (credentials, ledger, clip cache). Default: $TESSERA_HOME or ~/.tessera")
ledger_option = click.option("--ledger", help="Ledger database URL (default: SQLite in the home; or $TESSERA_LEDGER_URL).")
