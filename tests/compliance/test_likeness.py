"""Likeness on real decoded video with dlib: watch-list, consent scope and expiry, synthetic performers, scene cuts."""
from datetime import date

import numpy as np
import pytest
from skimage import data
from sqlalchemy import create_engine

from compliance.likeness import (
    SHAPE_MODEL,
    FaceModels,
    LikenessModelError,
    NoSingleFaceError,
    check_likeness,
    face_embedding,
)
from compliance.registry import LikenessRegistry
from gate_media import astronaut_pan, encode_h264, pan, photo

FPS = 8
ON = date(2026, 9, 1)


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels.load()


@pytest.fixture(scope="module")
def astronaut(models) -> np.ndarray:
    """Her embedding, registered from the still photo (not from the video under test)."""
    return face_embedding(data.astronaut(), models)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("likeness")
    return {
        "astronaut": encode_h264(astronaut_pan(2 * FPS), folder / "astronaut.mp4", fps=FPS),
        "coffee": encode_h264(pan(photo("coffee", (360, 640)), (360, 640), 2 * FPS), folder / "coffee.mp4", fps=FPS),
    }


@pytest.fixture
def registry(tmp_path) -> LikenessRegistry:
    return LikenessRegistry(create_engine(f"sqlite:///{tmp_path / 'ledger.db'}"))


def _check(video, registry, models, *, region="EU", sku="SKU-1", as_of=ON, ai_generated=False):
    return check_likeness(video, registry=registry, region=region, sku=sku, as_of=as_of, ai_generated=ai_generated, models=models)


def _at_distance(vec: np.ndarray, distance: float, seed: int = 0) -> np.ndarray:
    """An embedding exactly `distance` away from vec (a stand-in for a look-alike's registered face)."""
    rng = np.random.default_rng(seed)
    d = rng.standard_normal(vec.shape).astype(np.float32)
    return (vec + distance * d / np.linalg.norm(d)).astype(np.float32)


def test_watch_listed_person_is_blocked(videos, registry, models, astronaut):
    entry = registry.add_watch("Eileen Collins", astronaut, reason="public figure, no endorsement", added_by="legal@acme")
    result = _check(videos["astronaut"], registry, models)
    assert result.verdict == "block"
    assert "watch-list entry 'Eileen Collins'" in result.reasons[0] and "no endorsement" in result.reasons[0]
    listed = [f for f in result.faces if f.outcome == "watch_listed"]
    assert listed and all(f.entry_id == entry and f.distance < 0.5 for f in listed)
    assert result.frames_checked == 4  # 2 s at 2 per second


def test_consent_in_scope_passes(videos, registry, models, astronaut):
    registry.add_consent("Model A", astronaut, regions="EU,US-CA", products="SKU-1,SKU-2", expires_on=date(2026, 12, 31), record_ref="release-0042.pdf")
    result = _check(videos["astronaut"], registry, models)
    assert result.verdict == "pass", result.reasons
    assert {f.outcome for f in result.faces} <= {"consented", "ignored"}
    assert any(f.outcome == "consented" and f.name == "Model A" for f in result.faces)
    assert not result.synthetic_performer


@pytest.mark.slow
def test_consent_expired_on_the_render_date_blocks(videos, registry, models, astronaut):
    registry.add_consent("Model A", astronaut, regions="EU", products="*", expires_on=date(2026, 12, 31), record_ref="release-0042.pdf")
    result = _check(videos["astronaut"], registry, models, as_of=date(2027, 1, 15))
    assert result.verdict == "block"
    assert "consent expired on 2026-12-31" in result.reasons[0] and "release-0042.pdf" in result.reasons[0]


@pytest.mark.slow
def test_consent_for_another_region_or_product_blocks(videos, registry, models, astronaut):
    registry.add_consent("Model A", astronaut, regions="EU", products="SKU-1", expires_on=date(2027, 6, 30), record_ref="r-7")
    by_region = _check(videos["astronaut"], registry, models, region="US-NY")
    assert by_region.verdict == "block"
    assert "region US-NY not in consent regions EU" in by_region.reasons[0]
    by_product = _check(videos["astronaut"], registry, models, sku="SKU-9")
    assert by_product.verdict == "block"
    assert "product SKU-9 not in consent products SKU-1" in by_product.reasons[0]


@pytest.mark.slow
def test_watch_list_wins_over_a_consent(videos, registry, models, astronaut):
    registry.add_consent("Model A", astronaut, regions="EU", products="*", expires_on=date(2027, 6, 30), record_ref="r-7")
    registry.add_watch("Model A (revoked)", astronaut, reason="consent revoked by email 2026-08-30", added_by="legal@acme")
    assert _check(videos["astronaut"], registry, models).verdict == "block"


@pytest.mark.slow
def test_uncertain_distance_goes_to_review(videos, registry, models, astronaut):
    registry.add_consent("Look-alike", _at_distance(astronaut, 0.55), regions="EU", products="*", expires_on=date(2027, 6, 30), record_ref="r-8")
    result = _check(videos["astronaut"], registry, models)
    assert result.verdict == "review"
    assert "not a sure match" in result.reasons[0]


@pytest.mark.slow
def test_unknown_realistic_face_in_ai_content_is_a_synthetic_performer(videos, registry, models, astronaut):
    registry.add_watch("Someone else", _at_distance(astronaut, 0.9), reason="test", added_by="qa")
    result = _check(videos["astronaut"], registry, models, ai_generated=True)
    assert result.verdict == "pass", result.reasons
    assert result.synthetic_performer
    assert all(f.distance > 0.6 for f in result.faces)


@pytest.mark.slow
def test_unknown_face_in_camera_footage_has_no_consent_and_blocks(videos, registry, models):
    result = _check(videos["astronaut"], registry, models, ai_generated=False)
    assert result.verdict == "block"
    assert result.reasons[0].startswith("real person with no consent record")
    assert not result.synthetic_performer


def test_no_face_passes(videos, registry, models, astronaut):
    registry.add_watch("Eileen Collins", astronaut, reason="public figure", added_by="legal@acme")
    result = _check(videos["coffee"], registry, models)
    assert result.verdict == "pass" and result.faces == () and result.reasons == ()


@pytest.mark.slow
def test_a_shot_between_two_samples_is_caught_at_the_cut(registry, models, astronaut):
    coffee = pan(photo("coffee", (360, 640)), (360, 640), 2 * FPS)
    face = astronaut_pan(2 * FPS)
    frames = coffee[:5] + face[:2] + coffee[7:]  # 0.25 s of her, between grid samples 4 and 8
    registry.add_watch("Eileen Collins", astronaut, reason="public figure", added_by="legal@acme")
    result = check_likeness(frames, registry=registry, region="EU", sku="SKU-1", as_of=ON, ai_generated=False, fps=FPS, models=models)
    assert result.verdict == "block"
    assert {f.frame_index for f in result.faces if f.outcome == "watch_listed"} == {5}


def test_missing_model_file_fails_closed(tmp_path):
    with pytest.raises(LikenessModelError, match=SHAPE_MODEL):
        FaceModels.load(tmp_path)


def test_registration_photo_needs_exactly_one_face(models):
    with pytest.raises(NoSingleFaceError, match="found 0"):
        face_embedding(data.coffee(), models)


def test_no_frames_blocks(registry, models):
    result = check_likeness([], registry=registry, region="EU", sku="S", as_of=ON, ai_generated=True, fps=FPS, models=models)
    assert result.verdict == "block" and "no frames" in result.reasons[0]
