"""The ledger is tamper-evident: each red-team tamper of a rendered home is named by the real CLI with exit 1.

One small render (two 1:1 variants); each test works on its own copy of the home and tampers
with the ledger the way a writer to the database without the signing key can: plain SQL on
ledger.sqlite.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flow_catalogs import small_catalog
from flows.render import run_render
from foundation.primitives import sha256_file
from generation import ffmpeg_exe
from generation.plan import RenderOptions
from pipeline.settings import Settings

pytestmark = pytest.mark.slow        # one render for the module, then CLI processes


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("seals")
    catalog = small_catalog(root / "catalog", locales=("de-DE", "ja-JP"), aspects="1:1", duration_s="3")
    settings = Settings.build(home=root / "home", options=RenderOptions(short_side=288))
    summary = run_render(catalog, root / "out", settings, progress=lambda _: None)
    assert (summary.rendered, summary.failed) == (2, 0)
    return root


@pytest.fixture
def home(rendered, tmp_path):
    """A copy of the rendered home (the output folder is shared: no test changes it), the rendered
    files (sorted) and the asset id of each."""
    shutil.copytree(rendered / "home", tmp_path / "home", symlinks=True)
    with _db(tmp_path / "home") as db:
        ids = {Path(p).name: a for a, p in db.execute("SELECT asset_id, output_path FROM assets")}
    files = sorted((rendered / "out").rglob("*.mp4"))
    return tmp_path, files, [ids[f.name] for f in files]


def _out(files: list[Path]) -> Path:
    return Path(os.path.commonpath(files))


def _db(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "ledger.sqlite")


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def _audit(root: Path, *paths: Path) -> tuple[int, list[dict]]:
    result = _cli("audit", "--json", "--home", root / "home", *paths)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def _verify(root: Path) -> subprocess.CompletedProcess:
    return _cli("authorship", "verify", "--home", root / "home")


def _stripped(src: Path, dst: Path) -> Path:
    """The same frames without the C2PA manifest: a remux (no re-encode) that drops it."""
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-map", "0:v", "-c", "copy",
                    "-map_metadata", "-1", str(dst)], check=True)
    return dst


def test_an_untampered_home_verifies_intact_and_audits_pass(home):
    root, files, ids = home
    verify = _verify(root)
    assert verify.returncode == 0, verify.stderr
    assert "journal intact" in verify.stdout and "ledger intact: 4 rows match their seals" in verify.stdout
    code, rows = _audit(root, _out(files))
    assert code == 0 and [r["verdict"] for r in rows] == ["pass", "pass"], rows
    assert [r["asset_id"] for r in rows] == ids


def test_a_changed_sha256_in_an_asset_row_is_named(home):
    root, files, ids = home
    with _db(root / "home") as db:
        db.execute("UPDATE assets SET sha256 = ? WHERE asset_id = ?", ("0" * 64, ids[0]))
    code, rows = _audit(root, _out(files))
    assert code == 1
    first, second = rows
    assert first["verdict"] == "fail" and second["verdict"] == "pass"
    assert any(p.startswith(f"asset {ids[0]} in {files[0].parent.parent} row altered: sha256 differs from its seal (seq ") for p in first["problems"])
    verify = _verify(root)
    assert verify.returncode == 1 and f"asset {ids[0]} in {files[0].parent.parent} row altered: sha256 differs" in verify.stderr


def test_a_deleted_asset_row_is_named(home):
    root, files, ids = home
    with _db(root / "home") as db:
        db.execute("DELETE FROM manifests WHERE asset_id = ?", (ids[1],))
        db.execute("DELETE FROM assets WHERE asset_id = ?", (ids[1],))
    code, rows = _audit(root, _out(files))
    assert code == 1
    assert rows[0]["verdict"] == "pass" and rows[1]["verdict"] == "fail"
    assert any(p.startswith(f"asset {ids[1]} in {files[1].parent.parent} sealed at seq ") and p.endswith(" is missing") for p in rows[1]["problems"])
    # Audited alone, the other file passes and the missing row is the ledger's own fail row.
    code, rows = _audit(root, files[0])
    assert code == 1 and [r["verdict"] for r in rows] == ["pass", "fail"]
    assert rows[1]["c2pa_state"] == "ledger" and rows[1]["path"].endswith("ledger.sqlite")
    assert any(f"asset {ids[1]} in {files[1].parent.parent} sealed at seq" in p for p in rows[1]["problems"])
    verify = _verify(root)
    assert verify.returncode == 1 and f"asset {ids[1]} in {files[1].parent.parent} sealed at seq" in verify.stderr


def test_swapped_watermark_rows_are_named_and_never_used_by_recovery(home, tmp_path):
    root, files, ids = home
    copy = _stripped(files[0], tmp_path / "stripped.mp4")
    # Untampered, the stripped copy is traced back to its asset by watermark and fingerprints.
    code, rows = _audit(root, copy)
    assert code == 0 and rows[0]["recovered"] and rows[0]["recovery"]["asset_id"] == ids[0], rows
    assert rows[0]["watermark"]["asset_id"] == ids[0]
    with _db(root / "home") as db:
        (a,), (b,) = (db.execute("SELECT payload FROM watermarks WHERE asset_id = ?", (i,)).fetchone() for i in ids)
        db.execute("UPDATE watermarks SET payload = ? WHERE asset_id = ?", (b, ids[0]))
        db.execute("UPDATE watermarks SET payload = ? WHERE asset_id = ?", (a, ids[1]))
    code, rows = _audit(root, copy)
    assert code == 1
    copy_row, ledger_row = rows
    # The watermark now leads to the other asset: that row does not verify, so it is not named as the original.
    assert not copy_row["recovered"] and copy_row["recovery"] is None
    assert copy_row["watermark"]["asset_id"] is None
    assert any(p.startswith(f"watermark payload {a} leads to {ids[1]}, whose ledger rows do not verify: ignored")
               for p in copy_row["problems"]), copy_row["problems"]
    assert ledger_row["verdict"] == "fail"
    for asset_id in ids:
        assert any(p.startswith(f"soft binding of {asset_id} altered: payload differs from its seal")
                   for p in ledger_row["problems"])
    verify = _verify(root)
    assert verify.returncode == 1 and f"soft binding of {ids[0]} altered: payload differs" in verify.stderr


def test_a_forged_asset_row_is_named(home, tmp_path):
    """A row a writer without the signing key inserts for a file of their choosing: not sealed, so the file fails."""
    root, files, ids = home
    foreign = _stripped(files[0], tmp_path / "foreign.mp4")
    forged = "tsr-" + "f" * 24
    with _db(root / "home") as db:
        row = db.execute("SELECT * FROM assets WHERE asset_id = ?", (ids[0],)).fetchone()
        columns = [d[0] for d in db.execute("SELECT * FROM assets").description]
        values = dict(zip(columns, row), asset_id=forged, variant_key="f" * 64, sha256=sha256_file(foreign))
        db.execute(f"INSERT INTO assets ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                   list(values.values()))
    code, rows = _audit(root, foreign)
    assert code == 1
    assert rows[0]["asset_id"] == forged and rows[0]["verdict"] == "fail"
    assert f"asset {forged} in {files[0].parent.parent} not sealed (not written by Tessera with the signing key)" in rows[0]["problems"]
    verify = _verify(root)
    assert verify.returncode == 1 and f"asset {forged} in {files[0].parent.parent} not sealed" in verify.stderr


def test_registry_entries_are_sealed_and_an_altered_one_is_named(home, tmp_path):
    root, _, _ = home
    image = tmp_path / "work.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(image)
    added = _cli("protected", "add", image, "--title", "Poster", "--owner", "Studio X", "--home", root / "home")
    assert added.returncode == 0, added.stderr
    assert _verify(root).returncode == 0
    with _db(root / "home") as db:
        db.execute("UPDATE protected_works SET owner = 'nobody'")
    verify = _verify(root)
    assert verify.returncode == 1 and "protected work #1 altered: owner differs from its seal" in verify.stderr


def test_a_ledger_made_before_seals_is_reported_then_adopted_by_the_next_seal(tmp_path):
    from datetime import datetime, timezone

    from provenance.ledger import AssetRecord, Ledger
    from provenance.soft_binding import SoftBindingStore

    home = tmp_path / "home"
    ledger = Ledger(Settings.build(home=home).ledger_url)     # rows as an older Tessera wrote them: no seal
    ledger.start_run("r1", "catalog", "{}")
    ledger.record_asset(AssetRecord("tsr-" + "a" * 24, "a" * 64, "r1", "SKU", "de-DE", "1x1", tmp_path / "a.mp4",
                                    "b" * 64, "urn:c2pa:x", "c" * 64, datetime.now(timezone.utc)), "urn:c2pa:x", "{}")
    SoftBindingStore(ledger.engine).record("tsr-" + "a" * 24, 7, [1, 2, 3])
    legacy = _verify(tmp_path)
    assert legacy.returncode == 0, legacy.stderr
    assert "ledger NOT sealed: 2 rows made before seals (sealed from the next render on)" in legacy.stdout
    image = tmp_path / "work.png"
    Image.fromarray(np.random.default_rng(4).integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(image)
    assert _cli("protected", "add", image, "--title", "Poster", "--owner", "Studio X", "--home", home).returncode == 0
    adopted = _verify(tmp_path)
    assert adopted.returncode == 0, adopted.stderr
    assert "ledger intact: 3 rows match their seals; rows found unsealed were adopted at seq 1" in adopted.stdout
    with _db(home) as db:
        db.execute("UPDATE fingerprints SET hash = '0000000000000009' WHERE seq = 2")
    altered = _verify(tmp_path)
    assert altered.returncode == 1 and f"soft binding of tsr-{'a' * 24} altered: fingerprints differs" in altered.stderr


def test_a_removed_registry_entry_put_back_by_hand_is_named(tmp_path):
    home = tmp_path / "home"
    image = tmp_path / "work.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(image)
    for title in ("Poster", "Flyer"):
        assert _cli("protected", "add", image, "--title", title, "--owner", "Studio X", "--home", home).returncode == 0
    with _db(home) as db:
        removed = db.execute("SELECT * FROM protected_works WHERE id = 1").fetchone()
    assert _cli("protected", "remove", "1", "--home", home).returncode == 0
    intact = _verify(tmp_path)
    assert intact.returncode == 0 and "ledger intact: 1 row matches its seal" in intact.stdout, intact.stderr
    with _db(home) as db:
        db.execute("INSERT INTO protected_works VALUES (?, ?, ?, ?, ?)", removed)
    verify = _verify(tmp_path)
    assert verify.returncode == 1
    assert "protected work #1 not sealed (it was removed at seq " in verify.stderr
