"""`tessera likeness`, `tessera protected`, `tessera review`: thin commands over the registries and the review queue."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import click
import pytest
from click.testing import CliRunner
from PIL import Image
from skimage import data

from compliance.holds import hold_for_review, publish_block, quarantine
from compliance.journal import Journal
from flows.cli_compliance import COMPLIANCE_COMMANDS, likeness, protected, review
from gate_media import encode_h264
from provenance import Action, ManifestSpec, load_credentials, read_c2pa
from provenance.ledger import Ledger
from pipeline.publish import Publication
from pipeline.settings import Settings


def run(group, *args):
    return CliRunner().invoke(group, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli-photos")
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    Image.fromarray(data.coffee()).save(folder / "coffee.png")
    return folder


def test_every_command_has_examples():
    for group in COMPLIANCE_COMMANDS:
        result = run(group, "--help")
        assert "Examples:" in result.output, group.name
        if not isinstance(group, click.Group):          # a single command (recheck)
            assert "--home" in result.output and "--ledger" in result.output
            continue
        for name in group.commands:
            result = run(group, name, "--help")
            assert result.exit_code == 0 and "Examples:" in result.output, (group.name, name)
            assert "--home" in result.output and "--ledger" in result.output


def test_likeness_add_list_remove(home, photos):
    added = run(likeness, "add", "Eileen Collins", photos / "astronaut.png", "--watch", "--reason", "no endorsement",
                "--by", "legal@acme", "--home", home)
    assert added.exit_code == 0 and added.output.strip() == "watch #1: Eileen Collins"
    consent = run(likeness, "add", "Model A", photos / "astronaut.png", "--consent", "--regions", "CN,EU",
                  "--expires", "2027-06-30", "--record-ref", "release-0042.pdf", "--home", home)
    assert consent.exit_code == 0 and consent.output.strip() == "consent #1: Model A"
    rows = json.loads(run(likeness, "list", "--json", "--home", home).output)
    assert [(r["kind"], r["id"], r["name"]) for r in rows] == [("watch", 1, "Eileen Collins"), ("consent", 1, "Model A")]
    assert rows[1]["regions"] == ["CN", "EU"] and rows[1]["products"] == ["*"] and rows[1]["expires_on"] == "2027-06-30"
    assert "embedding" not in rows[0]
    assert run(likeness, "remove", "1", "--watch", "--home", home).output.strip() == "removed watch #1"
    gone = run(likeness, "remove", "1", "--watch", "--home", home)
    assert gone.exit_code == 1 and "no watch entry with id 1" in gone.output
    assert "0 watch-list, 1 consent" in run(likeness, "list", "--home", home).output


def test_likeness_add_refuses_a_photo_without_one_face_and_incomplete_consent(home, photos):
    no_face = run(likeness, "add", "Cup", photos / "coffee.png", "--watch", "--reason", "x", "--by", "y", "--home", home)
    assert no_face.exit_code == 1 and "exactly one face, found 0" in no_face.output
    partial = run(likeness, "add", "Model A", photos / "astronaut.png", "--consent", "--regions", "EU", "--home", home)
    assert partial.exit_code == 2 and "--consent needs --regions, --expires and --record-ref" in partial.output


def test_protected_add_list_remove(home, photos):
    added = run(protected, "add", photos / "coffee.png", "--title", "Coffee still life", "--owner", "Studio X",
                "--home", home)
    assert added.exit_code == 0 and added.output.strip() == "protected work #1: Coffee still life (Studio X)"
    rows = json.loads(run(protected, "list", "--json", "--home", home).output)
    assert [(r["id"], r["title"], r["owner"]) for r in rows] == [(1, "Coffee still life", "Studio X")]
    assert rows[0]["views"] >= 10
    assert run(protected, "remove", "1", "--home", home).exit_code == 0
    assert "0 protected works" in run(protected, "list", "--home", home).output


def test_review_approve_signs_publishes_and_records_who(home, tmp_path, photos):
    settings = Settings.build(home=home)
    led = Ledger(settings.ledger_url)
    led.start_run("run-7", "catalog", "{}")
    clip = encode_h264([np.asarray(Image.open(photos / "coffee.png").resize((96, 64)))] * 6, tmp_path / "v.mp4", fps=6)
    out = tmp_path / "out" / "SKU-1" / "SKU-1_de-DE_1x1.mp4"
    manifest = ManifestSpec(title=out.name, asset_id="tsr-rev-1", digital_source_type="trainedAlgorithmicMedia",
                            actions=(Action("c2pa.created", "Tessera"),))
    record = Publication(asset_id="tsr-rev-1", variant_key="key-rev-1", run_id="run-7", sku="SKU-1", locale="de-DE",
                         aspect="1:1", base_clip_key="b", output_path=out, watermark_payload=0x1234,
                         fingerprints=(7, 8)).to_record()
    hold_for_review(clip, review_dir=home / "review", report={
        "asset_id": "tsr-rev-1", "reasons": ["face is close to consented 'Model A' (#1, distance 0.55)"],
        "publish": publish_block(output_path=out, manifest=manifest, record=record)})

    listed = run(review, "list", "--home", home)
    assert "tsr-rev-1" in listed.output and "distance 0.55" in listed.output and "1 waiting for review" in listed.output
    no_name = run(review, "approve", "tsr-rev-1", "--by", " ", "--home", home)
    assert no_name.exit_code == 1 and "reviewer's name is required" in no_name.output

    approved = run(review, "approve", "tsr-rev-1", "--by", "Dana Lee", "--reason", "release on file", "--home", home)
    assert approved.exit_code == 0, approved.output
    assert out.is_file() and not (home / "review" / "tsr-rev-1.mp4").exists()
    creds = load_credentials(settings.signing)
    assert read_c2pa(out, creds.anchors_pem).state == "Trusted"
    assert led.asset("tsr-rev-1").output_path == out
    events = Journal.from_credentials(led.engine, creds).events(asset_id="tsr-rev-1")
    assert [(e.action, e.actor, e.actor_kind) for e in events] == [
        ("approval", "Dana Lee", "human"), ("publication", "tessera", "system")]
    assert events[0].detail["reason"] == "release on file"
    assert "0 waiting for review" in run(review, "list", "--home", home).output


def test_review_refuses_to_approve_a_blocked_variant_and_rejects_with_a_reason(home, tmp_path, photos):
    frames = [np.zeros((64, 96, 3), np.uint8)] * 4
    quarantine(encode_h264(frames, tmp_path / "b.mp4", fps=4), quarantine_dir=home / "quarantine",
               report={"asset_id": "tsr-blocked", "reasons": ["face matches watch-list entry 'X'"]})
    settings = Settings.build(home=home)
    journal = Journal.from_credentials(Ledger(settings.ledger_url).engine, load_credentials(settings.signing))
    refused = run(review, "approve", "tsr-blocked", "--by", "Dana Lee", "--home", home)
    assert refused.exit_code == 1 and "blocked" in refused.output and "cannot be approved" in refused.output
    hold_for_review(encode_h264(frames, tmp_path / "r.mp4", fps=4), review_dir=home / "review",
                    report={"asset_id": "tsr-unsure", "reasons": ["uncertain"]})
    nameless = run(review, "approve", "tsr-unsure", "--by", "  ", "--home", home)
    assert nameless.exit_code == 1 and "name" in nameless.output
    assert len(journal.events()) == 0     # the refusals recorded nothing
    assert json.loads(run(review, "list", "--json", "--home", home).output)[0]["status"] == "review"
    rejected = run(review, "reject", "tsr-unsure", "--by", "Dana Lee", "--reason", "resembles a celebrity", "--home", home)
    assert rejected.exit_code == 0 and "quarantined" in rejected.output
    blocked = json.loads(run(review, "list", "--blocked", "--json", "--home", home).output)
    assert sorted(r["asset_id"] for r in blocked) == ["tsr-blocked", "tsr-unsure"]
