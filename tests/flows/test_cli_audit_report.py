"""tessera audit --report: the report is written beside the usual output; exit code and stdout unchanged."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "c2pa-external"


def tessera(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_report_is_written_and_the_exit_code_and_stdout_stay(tmp_path):
    files = [str(FIXTURES / "no_manifest.jpg"), str(FIXTURES / "E-sig-CA.jpg")]
    plain = tessera("audit", "--json", "--home", str(tmp_path), *files)
    report = tmp_path / "audit.html"
    with_report = tessera("audit", "--json", "--home", str(tmp_path), "--report", str(report), *files)
    assert with_report.returncode == plain.returncode == 1
    assert json.loads(with_report.stdout) == json.loads(plain.stdout)
    html = report.read_text(encoding="utf-8")
    assert html.count('<section class="file"') == 2 and html.count('src="data:image/jpeg;base64,') == 2
    assert "--report" in html and "E-sig-CA.jpg" in html


def test_an_unknown_report_extension_is_a_usage_error_naming_it(tmp_path):
    result = CliRunner().invoke(cli, ["audit", "--home", str(tmp_path), "--report", str(tmp_path / "audit.pdf"),
                                      str(FIXTURES / "no_manifest.jpg")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "audit.pdf" in result.output and "'.pdf'" in result.output and "--report" in result.output
    assert "verdict" not in result.output and not (tmp_path / "audit.pdf").exists()
