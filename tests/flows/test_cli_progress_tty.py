"""`tessera render` through the real CLI: on a terminal (a pseudo-terminal here) a bar redrawn in place with
the rate and the time left; into a pipe plain lines, one per variant, and no terminal control codes."""
from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flow_catalogs import small_catalog

pytestmark = pytest.mark.slow   # whole renders through the CLI

REPO = Path(__file__).resolve().parents[2]
CLEAR = "\r\x1b[K"


def _args(root: Path) -> list[str]:
    catalog = small_catalog(root / "catalog", locales=("de-DE",), aspects="9:16;1:1")
    return [sys.executable, "-m", "flows.cli", "render", str(catalog), "--out", str(root / "out"),
            "--home", str(root / "home"), "--short-side", "288", "--workers", "1"]


def _env() -> dict[str, str]:
    # a loaded machine can take longer than the default 20 s to start the ephemeral server
    return {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm", "COLUMNS": "160",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}


def _on_a_terminal(args: list[str], timeout_s: float = 600) -> tuple[int, str]:
    """Run with stdout and stderr on one pseudo-terminal; everything it wrote, and its exit status."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=_env(), cwd=REPO)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:          # EIO: the child closed its end
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        returncode = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    # the terminal turns "\n" into "\r\n"
    return returncode, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def test_on_a_terminal_the_render_draws_a_bar_in_place(tmp_path):
    returncode, screen = _on_a_terminal(_args(tmp_path))
    assert returncode == 0, screen
    assert "Traceback" not in screen, screen
    assert "generating" not in screen, screen      # the motion backend has no generation steps
    frames = screen.split(CLEAR)
    assert frames[1].startswith("2 variants planned: 2 to render, 0 unchanged\n"), frames
    bars = [f for f in frames if f.startswith("[")]
    # the plan, then one bar per finished variant, each redrawn over the last (no newline until the run ends)
    assert [re.match(r"\[([#-]{24})\] (\d)/2  ", b).groups() for b in bars] == [
        ("-" * 24, "0"), ("#" * 12 + "-" * 12, "1"), ("#" * 24, "2")], bars
    assert bars[0].endswith("rate and time left after the first variant  2 to render"), bars
    bars = bars[1:]
    assert all(re.search(r"\d+\.\d variants/min, about \d+m\d\ds left  rendered ESP-BLEND-1KG de-DE", b)
               for b in bars), bars
    assert "\n" not in bars[0] and bars[1].startswith(bars[1].split("\n")[0])
    # the summary table follows on lines of its own
    summary = bars[1].split("\n", 1)[1]
    assert summary.splitlines()[0].split()[:2] == ["rendered", "skipped"], screen
    assert summary.splitlines()[1].split()[:2] == ["2", "0"], screen


def test_into_a_pipe_the_render_prints_plain_lines(tmp_path):
    done = subprocess.run(_args(tmp_path), capture_output=True, text=True, env=_env(), cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\x1b" not in done.stderr and "\r" not in done.stderr, repr(done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert [line.split()[:2] for line in lines] == [["[1/2]", "rendered"], ["[2/2]", "rendered"]], done.stderr
    assert all(re.search(r"\(\d+\.\d variants/min, about \d+m\d\ds left\)$", line) for line in lines), lines
    assert done.stdout.splitlines()[1].split()[:2] == ["2", "0"], done.stdout
