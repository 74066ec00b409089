"""The CLI: every command documented with examples, exit codes as promised."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_command_has_examples_and_is_in_the_readme():
    readme = README.read_text()
    for name, command in cli.commands.items():
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
