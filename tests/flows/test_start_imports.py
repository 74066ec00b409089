"""An unchanged re-render answers without the heavy libraries: no Prefect, pandas, scipy, torch, dlib, c2pa
or alembic is imported on that path (its start-up is what a user waits for), and the intact-file check
still catches an output whose bytes changed."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flow_catalogs import small_catalog
from flows.cli import cli

pytestmark = pytest.mark.slow   # a whole render

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("prefect", "pandas", "scipy", "torch", "diffusers", "cv2", "dlib", "c2pa", "alembic", "imagehash")

# The CLI as a user runs it, then the heavy modules it left imported.
PROBE = """
import sys
from flows.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print("imported:", ",".join(m for m in {heavy!r} if m in sys.modules), "exit:", code)
"""


def test_an_unchanged_re_render_imports_none_of_the_heavy_libraries_and_still_checks_the_files(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    args = ["render", str(catalog), "--out", str(tmp_path / "out"), "--home", str(tmp_path / "home"),
            "--short-side", "288", "--workers", "1"]
    first = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output

    def rerun(*extra: str) -> str:
        done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args, *extra],
                              cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    out = rerun()
    assert "nothing to render" in out and "imported:  exit: 0" in out, out
    # The same size, other bytes, a new mtime: the stat differs, the file is hashed, and it is not intact.
    video = next((tmp_path / "out").rglob("*.mp4"))
    data = bytearray(video.read_bytes())
    data[-1] ^= 0xFF
    video.write_bytes(bytes(data))
    os.utime(video, ns=(video.stat().st_mtime_ns + 10**9,) * 2)
    assert "the signed file is missing or its bytes changed" in rerun("--dry-run")
