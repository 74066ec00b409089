"""One contract, every base-clip backend: deterministic, cached by content key, honest, fail-closed.

The same tests run over the motion backend and a tiny random-weight Wan pipeline built from
config (diffusers' own habit: one tester over every pipeline)."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from catalogs.schema import BrandKit, Product
from foundation.frames import read_clip
from foundation.primitives import SourceType
from generation.backends import BaseClipBackend, GenerationError, MotionBackend, backend_for_params
from generation.replay import rerender_take

TINY_WAN = dict(dtype="float32", device="cpu", num_inference_steps=2, guidance_scale=5.0, width=32, height=32,
                num_frames=9, fps=8, size=32)


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    y, x = np.mgrid[0:48, 0:64]
    pixels = np.stack([x * 4, y * 5, np.full_like(x, 120)], axis=-1).astype(np.uint8)
    path = tmp_path_factory.mktemp("contract") / "product.png"
    Image.fromarray(pixels).save(path)
    return path


def _product(photo: Path) -> Product:
    return Product(sku="SKU-1", title="Test product", description="a test product", photo=photo,
                   price=Decimal("9.90"), currency="EUR", category="kitchen", duration_s=1.0, row=1)


def _brand() -> BrandKit:
    return BrandKit(name="Acme", primary_color="#112233", secondary_color="#445566", text_color="#ffffff",
                    font_family="Noto Sans")


@pytest.fixture(scope="module", params=["motion", pytest.param("diffusers", marks=pytest.mark.slow)])
def backend(request, tmp_path_factory) -> BaseClipBackend:
    if request.param == "motion":
        return MotionBackend(size=32, fps=8)
    from generation.backends import DiffusersBackend
    from generation.diffusion import DiffusionSettings
    from tiny_models import build_tiny_wan_t2v
    folder = build_tiny_wan_t2v(tmp_path_factory.mktemp("tiny-wan") / "wan-t2v")
    return DiffusersBackend(DiffusionSettings(model=str(folder), task="t2v", **TINY_WAN))


def _frames(path: Path) -> np.ndarray:
    return np.stack(list(read_clip(path)))


def test_same_parameters_give_the_same_frames(backend, photo, tmp_path):
    params = backend.take_params(_product(photo), _brand(), seed=3)
    a = backend.make_clip(params, tmp_path / "a")
    b = backend.make_clip(params, tmp_path / "b")
    assert a.key == b.key
    assert np.array_equal(_frames(a.path), _frames(b.path))
    other = backend.make_clip(backend.take_params(_product(photo), _brand(), seed=4), tmp_path / "a")
    assert other.key != a.key


def test_the_same_parameters_find_the_cached_clip(backend, photo, tmp_path):
    params = backend.take_params(_product(photo), _brand(), seed=1)
    first = backend.make_clip(params, tmp_path)
    stamp = first.path.stat().st_mtime_ns
    again = backend.make_clip(params, tmp_path)
    assert again == first and again.path.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{first.key}.mp4", f"{first.key}.json"])


def test_the_clip_states_its_source_type_and_every_parameter(backend, photo, tmp_path):
    params = backend.take_params(_product(photo), _brand(), seed=2)
    assert json.loads(json.dumps(params)) == params and params["backend"] == backend.name
    clip = backend.make_clip(params, tmp_path)
    assert clip.backend == backend.name
    source = SourceType.parse(clip.digital_source_type)
    assert source.is_ai == (backend.name == "diffusers")
    recorded = json.loads(clip.params_json)
    assert recorded["seed"] == 2
    name, version = backend.system(clip)
    assert name and version


def test_recorded_parameters_replay_through_the_backend_they_name(backend, photo, tmp_path):
    params = backend.take_params(_product(photo), _brand(), seed=5)
    clip = backend.make_clip(params, tmp_path / "render")
    assert isinstance(backend_for_params(params), type(backend))
    replayed = rerender_take(params, tmp_path / "replay")
    assert np.array_equal(_frames(replayed), _frames(clip.path))


def test_a_missing_input_fails_closed_naming_it(backend, photo, tmp_path):
    params = backend.take_params(_product(photo), _brand(), seed=0)
    if backend.name == "motion":
        params = {**params, "photo": str(tmp_path / "no-such-photo.png")}
        with pytest.raises(GenerationError, match="no-such-photo.png"):
            backend.make_clip(params, tmp_path)
    else:
        params = {**params, "settings": {**params["settings"], "model": str(tmp_path / "no-such-model")}}
        with pytest.raises(GenerationError, match="no-such-model"):
            backend_for_params(params)
    assert not list(tmp_path.glob("*.mp4"))


def test_unknown_recorded_backend_is_refused():
    with pytest.raises(GenerationError, match="'teleport'"):
        backend_for_params({"backend": "teleport"})
