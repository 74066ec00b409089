"""Durable credentials end to end: a rendered variant stripped and re-encoded is traced back."""
import subprocess
from pathlib import Path

import pytest

from flow_catalogs import small_catalog
from flows.render import run_render
from pipeline.settings import Settings
from generation import ffmpeg_exe
from foundation.primitives import sha256_file
from generation.plan import RenderOptions
from provenance import read_c2pa, watermark_key
from provenance.ledger import Ledger
from provenance.recover import recover
from provenance.soft_binding import SoftBindingStore

pytestmark = pytest.mark.slow        # every test here needs the module's 480p render of 5-second clips

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "c2pa-external"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("recovery")
    catalog = small_catalog(root / "catalog", locales=("de-DE", "ja-JP"), aspects="16:9", duration_s="5")
    settings = Settings.build(home=root / "home", options=RenderOptions(short_side=480))
    summary = run_render(catalog, root / "out", settings)
    assert summary.failed == 0
    ledger = Ledger(settings.ledger_url)
    store = SoftBindingStore(ledger.engine)
    return root, settings, ledger, store, sorted((root / "out").rglob("*.mp4"))


def _attack(src: Path, dst: Path, *args: str) -> Path:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), *args, "-map_metadata", "-1",
                    "-c:v", "libx264", "-crf", "28", "-pix_fmt", "yuv420p", str(dst)], check=True)
    return dst


def _recover(path, settings, ledger, store):
    return recover(path, key=watermark_key(settings.signing, create=False), ledger=ledger, store=store,
                   index=store.fingerprint_index())


def test_a_stripped_downscaled_copy_recovers_its_asset(rendered, tmp_path):
    _, settings, ledger, store, files = rendered
    original = files[0]
    copy = _attack(original, tmp_path / "copy.mp4", "-vf", "scale=-2:ih/2")
    assert read_c2pa(copy, None).state == "absent"
    result = _recover(copy, settings, ledger, store)
    expected = ledger.asset_id_for_sha256(sha256_file(original))
    assert result.recovered and result.asset_id == expected
    assert result.watermark["found"] and result.watermark["asset_id"] == expected
    assert result.fingerprint_match["asset_id"] == expected
    assert result.digital_source_type.endswith("/digitalCapture") and result.signer
    assert any(c.startswith("resized") for c in result.changes)


def test_the_resize_names_the_signed_size_and_a_same_size_copy_is_not_called_resized(rendered, tmp_path):
    """The signed size reads back as written ({"width", "height"}, not c2pa's bytes of [w, h]): a copy
    that was only re-encoded is not "resized", and a downscaled one names both real sizes."""
    from foundation.frames import probe

    _, settings, ledger, store, files = rendered
    w, h, _ = probe(files[0])
    same = _recover(_attack(files[0], tmp_path / "same.mp4"), settings, ledger, store)
    assert same.recovered and not any(c.startswith("resized") for c in same.changes), same.changes
    half = _recover(_attack(files[0], tmp_path / "half.mp4", "-vf", "scale=-2:ih/2"), settings, ledger, store)
    hw, hh, _ = probe(tmp_path / "half.mp4")
    assert f"resized {w}x{h} -> {hw}x{hh}" in half.changes


def test_a_three_second_excerpt_is_reported_shortened(rendered, tmp_path):
    _, settings, ledger, store, files = rendered
    copy = _attack(files[1], tmp_path / "excerpt.mp4", "-ss", "1", "-t", "3")
    result = _recover(copy, settings, ledger, store)
    assert result.recovered and result.watermark["found"]
    assert any(c.startswith("shortened") for c in result.changes)


def test_someone_elses_video_recovers_nothing_and_claims_nothing(rendered):
    _, settings, ledger, store, _ = rendered
    result = _recover(FIXTURES / "video1_no_manifest.mp4", settings, ledger, store)
    assert not result.recovered and result.asset_id is None
    assert not result.watermark["found"] and result.fingerprint_match is None


def test_the_audit_reports_a_recovered_copy_and_claims_nothing_for_a_foreign_one(rendered, tmp_path):
    import json

    from click.testing import CliRunner

    from flows.cli import cli

    _, settings, ledger, _, files = rendered
    copy = _attack(files[0], tmp_path / "reupload.mp4", "-vf", "scale=-2:ih/2")
    result = CliRunner().invoke(cli, ["audit", "--json", "--home", str(settings.home), str(copy),
                                      str(FIXTURES / "video1_no_manifest.mp4")])
    ours, foreign = json.loads(result.output)
    assert ours["c2pa_state"] == "absent" and ours["recovered"] is True
    assert ours["recovery"]["asset_id"] == ledger.asset_id_for_sha256(
        sha256_file(files[0]))
    assert ours["fingerprint_match"]["asset_id"] == ours["recovery"]["asset_id"]
    assert foreign["recovered"] is False and foreign["recovery"] is None and foreign["fingerprint_match"] is None
