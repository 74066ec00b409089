"""What every `tessera` command shares: the home, the ledger URL and the settings they make."""
from __future__ import annotations

import os
from pathlib import Path

import click


def _home(home: str | None) -> Path:
    return Path(home or os.environ.get("TESSERA_HOME") or Path.home() / ".tessera")


def _settings(home, ledger, **kwargs):
    from pipeline.settings import Settings
    return Settings.build(home=_home(home), ledger_url=ledger or os.environ.get("TESSERA_LEDGER_URL"), **kwargs)


def _quiet_prefect(verbose: bool = False) -> None:
    # Offline by design, and the CLI prints its own progress and errors: Prefect's logging (its
    # server start, its copy of a failed flow's traceback) only with --verbose. Explicit env settings win.
    level = "INFO" if verbose else "CRITICAL"
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", level)
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", level)
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")


home_option = click.option("--home", type=click.Path(file_okay=False), help="Tessera home (credentials, ledger, clip cache). Default: $TESSERA_HOME or ~/.tessera")
ledger_option = click.option("--ledger", help="Ledger database URL (default: SQLite in the home; or $TESSERA_LEDGER_URL).")
