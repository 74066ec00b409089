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


def _settings(home, ledger, *, create_home: bool = True, **kwargs):
    """The run's settings; the home is checked first (create_home=False: it must exist, as for an audit)."""
    from pipeline.home import HomeError, open_home
    from pipeline.settings import Settings
    from provenance import CredentialError

    try:
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


def _quiet_prefect() -> None:
    # Offline by design, and the CLI prints its own progress; explicit env settings still win.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")


home_option = click.option("--home", type=click.Path(file_okay=False), help="Tessera home (credentials, ledger, clip cache). Default: $TESSERA_HOME or ~/.tessera")
ledger_option = click.option("--ledger", help="Ledger database URL (default: SQLite in the home; or $TESSERA_LEDGER_URL).")
