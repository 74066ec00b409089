"""The CLI: every command documented with examples, exit codes as promised."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from flows.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_command_and_group_has_examples_and_is_in_the_readme():
    readme = README.read_text()
    top = CliRunner().invoke(cli, ["--help"])
    assert top.exit_code == 0 and "Examples:" in top.output, "tessera --help has no examples"
    for name, command in cli.commands.items():
        if isinstance(command, click.Group):     # a group's own help page too, not only its commands'
            group_help = CliRunner().invoke(cli, [name, "--help"])
            assert "Examples:" in group_help.output, f"tessera {name} --help has no examples"
        assert re.search(rf"tessera {name}\b", readme), f"README does not document `tessera {name}`"
        subcommands = getattr(command, "commands", {None: command})
        for sub in subcommands:
            args = [name, sub, "--help"] if sub else [name, "--help"]
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 0, result.output
            assert "Examples:" in result.output, f"{' '.join(args[:-1])} --help has no examples"
            if sub:
                assert re.search(rf"\b{sub}\b", readme), f"README does not mention `tessera {name} {sub}`"


def test_audit_usage_error_exits_2():
    result = CliRunner().invoke(cli, ["audit"])
    assert result.exit_code == 2


@pytest.mark.slow
def test_audit_json_of_a_file_without_credentials(tmp_path):
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "c2pa-external"
    result = subprocess.run([sys.executable, "-m", "flows.cli", "audit", "--json", "--home", str(tmp_path),
                             str(fixtures / "no_manifest.jpg"), str(fixtures / "E-sig-CA.jpg")],
                            capture_output=True, text=True)
    records = json.loads(result.stdout)
    assert [r["c2pa_state"] for r in records] == ["absent", "Invalid"]
    assert result.returncode == 1
    for r in records:
        assert {"path", "c2pa_state", "c2pa_codes", "asset_id", "verdict", "problems"} <= set(r)


def test_render_reports_catalog_errors_with_exit_1(tmp_path):
    result = CliRunner().invoke(cli, ["render", str(tmp_path), "--out", str(tmp_path / "out"), "--home", str(tmp_path / "h")])
    assert result.exit_code == 1
    assert "error" in result.output.lower()
    assert not (tmp_path / "out").exists()


def test_short_side_has_one_range_and_default_on_every_rendering_command():
    found = {}
    for name, command in cli.commands.items():
        for param in command.params:
            if param.name == "short_side":
                found[name] = (param.type.min, param.type.max, param.default)
    assert set(found) >= {"render", "serve", "deploy", "nightly"}, found
    assert len(set(found.values())) == 1, found


def test_verbose_is_one_option_on_every_command_that_starts_prefect_flows():
    found = {name: (param.is_flag, param.help) for name, command in cli.commands.items()
             for param in command.params if param.name == "verbose"}
    assert set(found) >= {"render", "serve", "nightly"}, found
    assert len(set(found.values())) == 1, found


def test_nightly_without_verbose_keeps_prefect_off_the_terminal_but_in_the_servers_log(monkeypatch):
    from flows.cli_common import _quiet_prefect
    for name in ("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_TO_API_ENABLED"):
        monkeypatch.setenv(name, "")       # recorded, so whatever the test sets is undone after it
        monkeypatch.delenv(name)
    _quiet_prefect(True, server_logs=True)
    assert "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL" not in os.environ
    _quiet_prefect(False, server_logs=True)
    assert os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] == "CRITICAL"
    assert "PREFECT_LOGGING_LEVEL" not in os.environ and "PREFECT_LOGGING_TO_API_ENABLED" not in os.environ


def test_schedule_time_zone_defaults_to_the_machines(monkeypatch):
    from flows.cli_common import machine_timezone
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert machine_timezone() == "Asia/Tokyo"
    monkeypatch.setenv("TZ", "Not/AZone")
    assert machine_timezone() != "Not/AZone"        # the machine's zone from /etc, else UTC
    serve = cli.commands["serve"]
    assert "this machine's, else UTC" in " ".join(CliRunner().invoke(cli, ["serve", "--help"]).output.split())
    assert next(p for p in serve.params if p.name == "timezone").default.__name__ == "machine_timezone"


def test_review_edit_accepts_a_locale_tag_in_any_case(tmp_path):
    import shutil
    import pandas as pd
    catalog = tmp_path / "catalog"
    shutil.copytree(Path(__file__).resolve().parents[2] / "catalogs" / "sample", catalog)
    result = CliRunner().invoke(cli, ["review", "edit", str(catalog), "ESP-BLEND-1KG", "de-de", "--field", "headline",
                                      "--text", "Frisch geröstet", "--by", "Jonas Weber", "--home", str(tmp_path / "h")])
    assert result.exit_code == 0, result.output
    assert "ESP-BLEND-1KG de-DE" in result.output                    # journaled as the catalog spells it
    copy = pd.read_csv(catalog / "copy.csv", dtype=str, keep_default_na=False)
    row = copy[(copy["sku"] == "ESP-BLEND-1KG") & (copy["locale"] == "de-DE")]
    assert row["headline"].tolist() == ["Frisch geröstet"]
    assert row["copy_author"].tolist() == ["team:Berlin copy desk"]   # the row's author stays; the edit is journaled
    from compliance.journal import Journal
    from pipeline.settings import Settings
    from provenance import load_credentials
    from provenance.ledger import Ledger
    settings = Settings.build(home=tmp_path / "h")
    (edit,) = Journal.from_credentials(Ledger(settings.ledger_url).engine,
                                       load_credentials(settings.signing)).events(variant_key="copy:ESP-BLEND-1KG:de-DE")
    assert (edit.action, edit.actor, edit.actor_kind, edit.detail["after"]) == \
        ("edit_applied", "Jonas Weber", "human", "Frisch geröstet")
