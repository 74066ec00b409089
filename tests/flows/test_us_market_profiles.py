"""A market bound by two profiles, through a whole render: an en-US ad (`US-CA;US-NY`) whose AI-made product
photo shows a person who is no one on record (a synthetic performer) carries New York's GBL 396-b disclosure
on screen and California's SB 942 latent disclosure in its manifest, and the audit finds both."""
import json

import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image
from skimage import data

from compliance.decide import COMPLIANCE_LABEL, LATENT_LABEL
from flow_catalogs import small_catalog
from flows.cli import cli
from provenance import read_c2pa

pytestmark = pytest.mark.slow   # a whole render, then an audit that decodes it

NY, CA = "us-ny-gbl-396b-synthetic-performer", "us-ca-sb942-latent-disclosure"


def test_an_en_us_synthetic_performer_ad_carries_the_ny_disclosure_and_the_ca_fields(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("en-US",), aspects="1:1", duration_s="3")
    Image.fromarray(data.astronaut()).save(catalog / "photos" / "coffee.jpg", quality=95)
    products = pd.read_csv(catalog / "products.csv", dtype=str, keep_default_na=False)
    products["photo_source"] = "trainedAlgorithmicMedia"     # an AI-made photo: the person in it is synthetic
    products.to_csv(catalog / "products.csv", index=False)
    home = tmp_path / "home"
    rendered = CliRunner().invoke(cli, ["render", str(catalog), "--out", str(tmp_path / "out"), "--home", str(home),
                                        "--short-side", "288", "--workers", "1", "--as-of", "2026-12-01"])
    assert rendered.exit_code == 0, rendered.output
    (video,) = (tmp_path / "out").rglob("*.mp4")

    report = read_c2pa(video, None)
    record = report.assertion(COMPLIANCE_LABEL)
    assert record["rule_profile"] == "US-CA;US-NY" and set(record["rules_applied"]) == {CA, NY}, record
    assert record["content"]["synthetic_performer"] and record["content"]["advertising"], record["content"]
    assert [(x["rule_id"], x["text"]) for x in record["visible_labels"]] == [(NY, "SYNTHETIC PERFORMER")]
    latent = report.assertion(LATENT_LABEL)                    # CA's fields: who, with what, when, which asset
    assert latent["provider"] == "Harbor & Pine" and latent["system_name"] == "Tessera", latent
    assert latent["unique_id"].startswith("tsr-") and latent["created_at"], latent

    audited = CliRunner().invoke(cli, ["audit", "--json", "--home", str(home), str(video)])
    (row,) = json.loads(audited.output)
    assert audited.exit_code == 0 and row["verdict"] == "pass", row
    assert (row["labels"][NY], row["labels"][CA]) == ("ok", "ok"), row["labels"]
    assert row["asset_id"] == latent["unique_id"]
