"""One assessment per base clip: faces with embeddings and protected works, from a single decode of the clip."""
from __future__ import annotations

import pickle
from datetime import date

import numpy as np
import pytest
from PIL import Image, ImageFilter
from skimage import data
from sqlalchemy import create_engine

from compliance.assess import assess_base_clip, open_registries
from compliance.decide import decide
from compliance.likeness import FaceModels
from generation.motion import make_base_clip

ON = date(2026, 9, 1)


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels.load()


@pytest.fixture(scope="module")
def works(tmp_path_factory):
    """A registered work (skimage's rocket photo), a 90 % centre crop of it, and an unrelated photo."""
    folder = tmp_path_factory.mktemp("works")
    rocket = Image.fromarray(data.rocket())
    rocket.save(folder / "rocket.png")
    w, h = rocket.size
    rocket.crop((round(w * 0.05), round(h * 0.05), round(w * 0.95), round(h * 0.95))).save(folder / "rocket_crop90.png")
    Image.fromarray(data.coffee()).save(folder / "coffee.png")
    reg = open_registries(create_engine(f"sqlite:///{folder / 'ledger.db'}"))
    work_id = reg.protected.add_work(folder / "rocket.png", "Launch poster", "Space Agency Archive")
    return folder, reg, work_id


def _clip(folder, name, seconds=2.0):
    # seed 0 (the render's default): its push-in keeps the landscape photo whole on a blurred copy of itself
    # for the first second, which the works check only sees through the gate's soft-border view
    return make_base_clip(folder / f"{name}.png", cache_dir=folder / "clips", size=288, fps=12, duration_s=seconds, seed=0)


@pytest.mark.parametrize("name", ["rocket", "rocket_crop90"])
def test_a_clip_of_a_registered_work_or_a_crop_of_it_is_blocked_naming_it(works, models, name):
    folder, reg, work_id = works
    a = assess_base_clip(_clip(folder, name), registries=reg, models=models)
    (match,) = a.protected
    assert (match.work_id, match.title, match.owner) == (work_id, "Launch poster", "Space Agency Archive")
    assert match.frame_indices and set(match.frame_indices) <= {0, 6, 12, 18}   # base clip frames that were sampled
    assert a.frames_checked == 4
    d = decide(a, region_profile="EU", region="DE", language="de", sku="SKU-1", as_of=ON, ai_generated=False,
               asset_id="tsr-w", provider="Acme", system="Tessera", system_version="1")
    assert d.verdict == "block"
    assert any("show protected work 'Launch poster' (Space Agency Archive" in r for r in d.reasons)
    assert d.to_dict()["protected_works"][0]["frames"] == list(match.frame_indices)


def test_soft_borders_are_trimmed_for_the_works_check():
    from compliance.assess import _soft_trim
    photo = np.asarray(Image.fromarray(data.rocket()).resize((288, 192)))
    blurred = np.asarray(Image.fromarray(data.rocket()).resize((288, 288)).filter(ImageFilter.GaussianBlur(9)))
    frame = blurred.copy()
    frame[48:240] = photo                                                     # the motion backend's layout
    trimmed = _soft_trim(frame)
    assert trimmed is not None and abs(trimmed.shape[0] - 192) <= 4 and trimmed.shape[1] == 288
    texture = np.stack([np.asarray(Image.fromarray(data.brick()).resize((288, 288)))] * 3, axis=-1)
    assert _soft_trim(texture) is None                                        # sharp to the edges: no extra view


def test_an_unrelated_clip_matches_no_work(works, models):
    folder, reg, _ = works
    a = assess_base_clip(_clip(folder, "coffee"), registries=reg, models=models)
    assert a.protected == () and a.faces == () and a.registry_sizes == (0, 0, 1)
    d = decide(a, region_profile="EU", region="DE", language="de", sku="SKU-1", as_of=ON, ai_generated=False,
               asset_id="tsr-c", provider="Acme", system="Tessera", system_version="1")
    assert d.verdict == "pass" and d.reasons == ()


def test_assessment_is_small_and_picklable_with_faces_in_base_clip_pixels(works, models, tmp_path):
    folder, reg, _ = works
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    base = _clip(folder, "astronaut", seconds=3.0)
    a = assess_base_clip(base, registries=reg, models=models)
    assert a.frames_checked == 6 and a.duration_s == 3.0 and a.seconds > 0
    assert a.protected == ()                                                  # not the registered rocket
    confident = [f for f in a.faces if f.detection_score > 0.3]
    assert {f.frame_index for f in confident} == {0, 6, 12, 18, 24, 30}      # her face on every sampled frame
    for f in confident:
        left, top, right, bottom = f.box
        assert 0 <= left < right <= base.width and 0 <= top < bottom <= base.height
        assert f.vector.shape == (128,)
    blob = pickle.dumps(a)
    assert pickle.loads(blob) == a and len(blob) < 20_000
