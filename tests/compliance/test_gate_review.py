"""Quarantine and review folders: unsigned files move in with a report; humans approve or reject; blocked stays blocked."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from compliance.decide import GateError
from compliance.holds import (
    REPORT_SCHEMA,
    ReviewError,
    approve,
    held_items,
    hold_for_review,
    mark_published,
    pending_reviews,
    quarantine,
    reject,
    supersede_review,
)
from gate_media import encode_h264


@pytest.fixture
def staged(tmp_path):
    """Two real unsigned H.264 variants in a staging folder."""
    stage = tmp_path / "staging"
    stage.mkdir()
    frames = [np.full((64, 96, 3), 40 * i, np.uint8) for i in range(6)]
    return {name: encode_h264(frames, stage / f"{name}.4f2e.mp4", fps=6) for name in ("tsr-aaa", "tsr-bbb")}


def _report(asset_id, *reasons, **extra):
    return {"asset_id": asset_id, "reasons": list(reasons), **extra}


def test_quarantine_moves_the_file_and_writes_why(staged, tmp_path):
    src = staged["tsr-aaa"]
    data = src.read_bytes()
    q = tmp_path / "quarantine"
    media = quarantine(src, quarantine_dir=q, report=_report("tsr-aaa", "frames 0, 12 show protected work 'Poster'"))
    assert media == q / "tsr-aaa.mp4" and media.read_bytes() == data and not src.exists()
    report = json.loads((q / "tsr-aaa.json").read_text())
    assert report["status"] == "blocked" and report["schema"] == REPORT_SCHEMA and report["file"] == "tsr-aaa.mp4"
    assert report["reasons"] == ["frames 0, 12 show protected work 'Poster'"] and report["held_at"]
    assert sorted(p.name for p in q.iterdir()) == ["tsr-aaa.json", "tsr-aaa.mp4"]   # no temp files left
    assert [i.asset_id for i in held_items(q)] == ["tsr-aaa"]


def test_a_report_without_reasons_or_asset_id_is_refused_and_nothing_moves(staged, tmp_path):
    with pytest.raises(GateError, match="non-empty list of reasons"):
        quarantine(staged["tsr-aaa"], quarantine_dir=tmp_path / "q", report=_report("tsr-aaa"))
    with pytest.raises(GateError, match="asset_id usable as a file name"):
        quarantine(staged["tsr-aaa"], quarantine_dir=tmp_path / "q", report=_report("../x", "why"))
    assert staged["tsr-aaa"].exists()


def test_review_queue_lists_waiting_variants_and_records_the_approver(staged, tmp_path):
    review = tmp_path / "review"
    for asset_id, path in staged.items():
        hold_for_review(path, review_dir=review, report=_report(asset_id, f"face is close to 'Model A' ({asset_id})"))
    assert [i.asset_id for i in pending_reviews(review)] == ["tsr-aaa", "tsr-bbb"]
    with pytest.raises(ReviewError, match="reviewer's name is required"):
        approve(review, "tsr-aaa", by="  ")
    decision = approve(review, "tsr-aaa.mp4", by="Dana Lee", reason="release on file")   # by file name
    assert (decision.asset_id, decision.action, decision.by, decision.reason) == ("tsr-aaa", "approved", "Dana Lee",
                                                                                 "release on file")
    assert decision.media == review / "tsr-aaa.mp4" and decision.media.is_file()
    saved = json.loads((review / "tsr-aaa.json").read_text())
    assert saved["status"] == "approved" and saved["review"]["by"] == "Dana Lee"
    assert [i.asset_id for i in pending_reviews(review)] == ["tsr-bbb"]
    assert approve(review, "tsr-aaa", by="Someone Else").by == "Dana Lee"   # approved once; the record stands
    mark_published(decision, output_path=tmp_path / "out" / "ad.mp4")
    assert not decision.media.exists()
    assert json.loads((review / "tsr-aaa.json").read_text())["status"] == "published"
    with pytest.raises(ReviewError, match="already published"):
        approve(review, "tsr-aaa", by="Dana Lee")


def test_a_blocked_variant_cannot_be_approved(staged, tmp_path):
    q, review = tmp_path / "quarantine", tmp_path / "review"
    quarantine(staged["tsr-aaa"], quarantine_dir=q, report=_report("tsr-aaa", "face matches watch-list entry 'X'"))
    with pytest.raises(ReviewError, match="tsr-aaa is blocked, not waiting for review .*watch-list entry 'X'.*cannot be approved"):
        approve(review, "tsr-aaa", by="Dana Lee", quarantine_dir=q)
    with pytest.raises(ReviewError, match="no variant 'tsr-zzz' is waiting for review"):
        approve(review, "tsr-zzz", by="Dana Lee", quarantine_dir=q)
    # a report in the review folder that says "block" is refused as well
    hold_for_review(staged["tsr-bbb"], review_dir=review, report=_report("tsr-bbb", "x", verdict="block"))
    with pytest.raises(ReviewError, match="tsr-bbb is blocked"):
        approve(review, "tsr-bbb", by="Dana Lee")


def test_rejection_needs_a_reason_and_moves_the_variant_to_quarantine(staged, tmp_path):
    q, review = tmp_path / "quarantine", tmp_path / "review"
    hold_for_review(staged["tsr-aaa"], review_dir=review, report=_report("tsr-aaa", "uncertain match"))
    with pytest.raises(ReviewError, match="needs a reason"):
        reject(review, "tsr-aaa", by="Dana Lee", reason="", quarantine_dir=q)
    decision = reject(review, "tsr-aaa", by="Dana Lee", reason="resembles a celebrity", quarantine_dir=q)
    assert decision.media == q / "tsr-aaa.mp4" and decision.media.is_file()
    assert sorted(os.listdir(review)) == []
    report = json.loads((q / "tsr-aaa.json").read_text())
    assert report["status"] == "blocked" and report["review"]["action"] == "rejected"
    assert report["reasons"] == ["uncertain match", "rejected by Dana Lee: resembles a celebrity"]
    with pytest.raises(ReviewError, match="blocked"):
        approve(review, "tsr-aaa", by="Dana Lee", quarantine_dir=q)


def test_a_newer_render_supersedes_a_held_copy(staged, tmp_path):
    review = tmp_path / "review"
    hold_for_review(staged["tsr-aaa"], review_dir=review, report=_report("tsr-aaa", "face is close to 'Model A'"))
    assert supersede_review(review, "tsr-bbb", verdict="pass") is False          # nothing held under that id
    assert supersede_review(review, "tsr-aaa", verdict="pass") is True
    assert pending_reviews(review) == [] and not (review / "tsr-aaa.mp4").exists()
    saved = json.loads((review / "tsr-aaa.json").read_text())
    assert (saved["status"], saved["superseded_by"]) == ("superseded", "pass")
    with pytest.raises(ReviewError, match="no longer waiting for review: a newer render was published"):
        approve(review, "tsr-aaa", by="Dana Lee")
    assert supersede_review(review, "tsr-aaa", verdict="block") is False         # once is enough
