"""The audit applies what the ledger knows of a recovered copy: an AI zh-CN variant re-uploaded with its
label covered and its metadata stripped fails, naming the CN rules, with and without --region."""
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from flow_catalogs import small_catalog
from flows.cli import cli
from flows.render import run_render
from generation import ffmpeg_exe
from generation.plan import RenderOptions
from pipeline.settings import Settings
from provenance import read_c2pa

pytestmark = pytest.mark.slow        # a 480p render of a 5-second clip, then audits with recovery

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "c2pa-external"
CN_RULES = ("cn-cac-explicit-video", "cn-cac-implicit-metadata")


@pytest.fixture(scope="module")
def covered_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("recovered-rules")
    catalog = small_catalog(root / "catalog", locales=("zh-CN",), aspects="16:9", duration_s="5")
    products = pd.read_csv(catalog / "products.csv", dtype=str, keep_default_na=False)
    products["photo_source"] = "trainedAlgorithmicMedia"       # an AI-made product photo: the variant is AI
    products.to_csv(catalog / "products.csv", index=False)
    settings = Settings.build(home=root / "home", options=RenderOptions(short_side=480))
    summary = run_render(catalog, root / "out", settings)
    assert (summary.rendered, summary.failed) == (1, 0), [o.reason for o in summary.outcomes]
    (original,) = sorted((root / "out").rglob("*.mp4"))
    record = read_c2pa(original, None).assertion("com.tessera.compliance")
    assert record["rules_applied"] == list(CN_RULES)
    copy = root / "reupload.mp4"
    # the label corner painted over, every metadata item (AIGC, C2PA) dropped by a re-encode
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(original), "-vf",
                    "drawbox=x=iw*0.75:y=0:w=iw*0.25:h=ih*0.18:color=black:t=fill", "-map_metadata", "-1",
                    "-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p", str(copy)], check=True)
    assert read_c2pa(copy, None).state == "absent"
    return settings, copy


@pytest.mark.parametrize("region", [None, "CN"])
def test_a_stripped_ai_zh_cn_copy_with_its_label_covered_fails_naming_the_cn_rules(covered_copy, region):
    settings, copy = covered_copy
    args = ["audit", "--json", "--home", str(settings.home), str(copy)] + (["--region", region] if region else [])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.output)
    assert row["recovered"] is True and row["verdict"] == "fail", row
    assert row["region"] == "CN" and all(row["labels"][r] == "missing" for r in CN_RULES), row["labels"]
    for rule in CN_RULES:
        assert any(p.startswith(f"CN rule {rule}: missing") for p in row["problems"]), row["problems"]
    assert not any("the file does not say" in p for p in row["problems"])
    assert any("as the ledger records the original" in p and "ai generated" in p for p in row["problems"])


def test_a_file_we_know_nothing_about_keeps_the_warning_with_its_reason(covered_copy):
    settings, _ = covered_copy
    result = CliRunner().invoke(cli, ["audit", "--json", "--home", str(settings.home), "--region", "CN",
                                      str(FIXTURES / "video1_no_manifest.mp4")])
    (row,) = json.loads(result.output)
    assert row["recovered"] is False and row["verdict"] == "warn" and result.exit_code == 0, row
    assert any("the file does not say" in p for p in row["problems"]), row["problems"]
