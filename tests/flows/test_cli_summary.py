"""`tessera render`'s summary adds up: blocked, awaiting a pick and held for review are counted, the counts
sum to the plan, each waiting kind prints the next command, and the exit status says what happened."""
from __future__ import annotations

import pytest

from pathlib import Path

from click.testing import CliRunner
from PIL import Image
from skimage import data

from compliance.assess import open_registries
from compliance.likeness import face_embedding
from flow_catalogs import small_catalog
from flows.cli import cli
from pipeline.settings import Settings
from provenance.ledger import Ledger

pytestmark = pytest.mark.slow   # whole renders or many CLI processes: `make test-fast` leaves them out

COLUMNS = ("rendered", "skipped", "blocked", "awaiting pick", "review", "failed", "planned")


def _render(root: Path, catalog: Path, *args: str):
    result = CliRunner().invoke(cli, ["render", str(catalog), "--out", str(root / "out"), "--home", str(root / "home"),
                                      "--short-side", "288", "--workers", "1", *args], catch_exceptions=False)
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["rendered"])
    assert lines[header].split()[:8] == ["rendered", "skipped", "blocked", "awaiting", "pick", "review", "failed",
                                         "planned"], result.output
    counts = dict(zip(COLUMNS, (int(v) for v in lines[header + 1].split()[:7])))
    return result, counts


def _one_variant(root: Path) -> Path:
    return small_catalog(root / "catalog", locales=("de-DE",), aspects="1:1")


def test_blocked_variants_are_counted_exit_3_and_never_called_nothing_to_render(tmp_path):
    catalog = _one_variant(tmp_path)
    Image.fromarray(data.astronaut()).save(catalog / "photos" / "coffee.jpg", quality=95)
    settings = Settings.build(home=tmp_path / "home")
    open_registries(Ledger(settings.ledger_url).engine).likeness.add_watch(
        "Eileen Collins", face_embedding(data.astronaut()), reason="public figure", added_by="legal@acme")
    for _ in range(2):    # the second run blocks it again: still not "nothing to render"
        result, counts = _render(tmp_path, catalog)
        assert counts == {"rendered": 0, "skipped": 0, "blocked": 1, "awaiting pick": 0, "review": 0, "failed": 0,
                          "planned": 1}, result.output
        assert result.exit_code == 3, result.output
        assert "next: tessera review list --blocked" in result.output
        assert "nothing to render" not in result.output


def test_takes_awaiting_a_pick_are_counted_with_the_next_command(tmp_path):
    result, counts = _render(tmp_path, _one_variant(tmp_path), "--candidates", "2", "--require-review")
    assert counts == {"rendered": 0, "skipped": 0, "blocked": 0, "awaiting pick": 1, "review": 0, "failed": 0,
                      "planned": 1}, result.output
    assert result.exit_code == 0, result.output
    assert "next: tessera review takes" in result.output and "nothing to render" not in result.output


def test_variants_held_for_review_then_an_unchanged_rerun_skips_what_was_signed(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    result, counts = _render(tmp_path, catalog, "--require-review")
    assert counts == {"rendered": 0, "skipped": 0, "blocked": 0, "awaiting pick": 0, "review": 1, "failed": 0,
                      "planned": 1}, result.output
    assert result.exit_code == 0, result.output
    assert "next: tessera review list" in result.output and "nothing to render" not in result.output
    # Without review, the variant renders; a rerun of the unchanged catalog has truly nothing to do.
    result, counts = _render(tmp_path, catalog)
    assert (counts["rendered"], counts["planned"], result.exit_code) == (1, 1, 0), result.output
    result, counts = _render(tmp_path, catalog)
    assert (counts["skipped"], counts["planned"], result.exit_code) == (1, 1, 0), result.output
    assert "nothing to render" in result.output and "next:" not in result.output


def test_progress_names_the_rate_and_the_time_left():
    from pipeline.progress import rate_and_time_left
    assert rate_and_time_left(3, 10, 60.0) == "3.0 variants/min, about 2m20s left"
    assert rate_and_time_left(10, 10, 30.0) == "20.0 variants/min, about 0m00s left"
