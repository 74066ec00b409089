"""The diffusion backend on tiny random-weight Wan and LTX pipelines, loaded from disk offline.

The tiny pipelines are real diffusers pipelines built from config (tiny_models.py), saved
with save_pretrained and loaded back through load_pipeline, the path a real checkpoint takes.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from foundation.frames import read_clip
from generation.diffusion import (
    DIGITAL_SOURCE_TYPE,
    DiffusionBackend,
    DiffusionSettings,
    GenerationError,
    folder_sha256,
    load_pipeline,
)
from generation.prompts import PromptError, render_prompt
from tiny_models import build_tiny_ltx_t2v, build_tiny_wan_i2v, build_tiny_wan_lora, build_tiny_wan_t2v

TINY = dict(dtype="float32", device="cpu", num_inference_steps=2, guidance_scale=5.0,
            width=32, height=32, num_frames=9, fps=8, size=48)
PROMPT = "A cinematic product shot of a red running shoe"
NEGATIVE = "text, watermark, blurry"


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """Tiny Wan T2V, Wan I2V and LTX pipelines and a Wan LoRA, built once, saved to disk."""
    import huggingface_hub.constants

    # tests/conftest.py sets HF_HUB_OFFLINE=1 before any hub import; prove it took effect.
    assert os.environ.get("HF_HUB_OFFLINE") == "1" and huggingface_hub.constants.is_offline_mode()
    root = tmp_path_factory.mktemp("tiny-models")
    return {
        "wan_t2v": build_tiny_wan_t2v(root / "wan-t2v"),
        "wan_i2v": build_tiny_wan_i2v(root / "wan-i2v"),
        "ltx": build_tiny_ltx_t2v(root / "ltx"),
        "wan_lora": build_tiny_wan_lora(root / "wan-lora"),
    }


@pytest.fixture(scope="session")
def product_photo(tmp_path_factory) -> Path:
    """A non-square product photo (a red disc on a gradient), so the center crop matters."""
    y, x = np.mgrid[0:40, 0:64]
    pixels = np.stack([x * 4, y * 6, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    pixels[(x - 32) ** 2 + (y - 20) ** 2 < 100] = (220, 30, 30)
    path = tmp_path_factory.mktemp("photos") / "shoe.png"
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture(scope="session")
def wan_t2v(tiny) -> DiffusionBackend:
    return DiffusionBackend(DiffusionSettings(model=str(tiny["wan_t2v"]), task="t2v", **TINY))


def frames_of(path: Path) -> np.ndarray:
    return np.stack(list(read_clip(path)))


def test_t2v_clip_is_made_written_and_recorded(wan_t2v, tiny, tmp_path):
    clip = wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=7, cache_dir=tmp_path)

    assert clip.path == tmp_path / f"{clip.key}.mp4" and clip.path.is_file()
    assert (clip.width, clip.height, clip.fps, clip.frames) == (48, 48, 8, 9)
    assert clip.backend == "diffusers"
    assert clip.digital_source_type == DIGITAL_SOURCE_TYPE
    frames = frames_of(clip.path)
    assert frames.shape == (9, 48, 48, 3) and frames.dtype == np.uint8
    assert frames.std() > 1.0  # random weights still give a non-constant picture

    params = json.loads(clip.params_json)
    assert params["key"] == clip.key
    assert params["model"] == {"source": "local", "folder_sha256": folder_sha256(tiny["wan_t2v"])}
    assert params["model_path"] == str(tiny["wan_t2v"])
    assert params["pipeline_class"] == "WanPipeline"
    assert (params["dtype"], params["device"], params["task"]) == ("float32", "cpu", "t2v")
    assert (params["prompt"], params["negative_prompt"], params["seed"]) == (PROMPT, NEGATIVE, 7)
    assert (params["num_inference_steps"], params["guidance_scale"]) == (2, 5.0)
    assert (params["width"], params["height"], params["num_frames"], params["fps"], params["size"]) == (32, 32, 9, 8, 48)
    assert params["speedups"] == {"cpu_offload": False, "vae_tiling": False, "compile": False, "cache": None, "lora": None}
    assert params["effective"] == {"cpu_offload": False, "vae_tiling": False, "oom_retry": None, "gpu": None}
    assert params["canvas"] == {"generated": {"width": 32, "height": 32},
                                "crop_box": {"left": 0, "top": 0, "right": 32, "bottom": 32},
                                "size": {"width": 48, "height": 48}}
    assert params["versions"]["torch"] == torch.__version__ and "diffusers" in params["versions"]
    assert params["image_sha256"] is None


def test_a_clip_is_made_as_long_as_the_product_asks(wan_t2v, tmp_path):
    # TINY generates 9 frames at 8 fps; a 3 s product needs 24, a 0.5 s one 4.
    generated = wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=2, cache_dir=tmp_path)
    longer = wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=2, cache_dir=tmp_path,
                                    duration_s=3.0)
    shorter = wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=2, cache_dir=tmp_path,
                                     duration_s=0.5)
    assert (generated.frames, longer.frames, shorter.frames) == (9, 24, 4)
    assert len({generated.key, longer.key, shorter.key}) == 3

    # Ping-pong: forward, back, forward; every frame is a generated one, in an order with no jump.
    g, long_frames = frames_of(generated.path), frames_of(longer.path)
    order = [*range(9), *range(7, 0, -1), *range(9)][:24]
    assert all(np.array_equal(long_frames[i], g[j]) for i, j in enumerate(order))
    assert np.array_equal(frames_of(shorter.path), g[:4])
    assert json.loads(longer.params_json)["duration"] == {"generated_frames": 9, "frames": 24, "method": "ping-pong"}
    assert json.loads(shorter.params_json)["duration"] == {"generated_frames": 9, "frames": 4, "method": "cut"}
    assert json.loads(generated.params_json)["duration"] == {"generated_frames": 9, "frames": 9, "method": "as generated"}
    assert json.loads(longer.params_json)["duration_s"] == 3.0 and "duration_s" not in json.loads(generated.params_json)


@pytest.mark.parametrize("bad", [0, -2.0, 601, True, "6"])
def test_a_bad_duration_is_refused_by_value(wan_t2v, tmp_path, bad):
    with pytest.raises(ValueError, match=rf"`duration_s` .* but is {bad!r}"):
        wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=2, cache_dir=tmp_path,
                               duration_s=bad)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_same_seed_same_pixels_other_seed_other_clip(wan_t2v, tmp_path):
    first = wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=3, cache_dir=tmp_path / "a")
    again = wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=3, cache_dir=tmp_path / "b")
    other = wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=4, cache_dir=tmp_path / "a")

    assert first.key == again.key and first.params_json == again.params_json
    assert np.array_equal(frames_of(first.path), frames_of(again.path))
    assert other.key != first.key
    assert not np.array_equal(frames_of(other.path), frames_of(first.path))


def test_each_generation_step_is_reported_and_reporting_leaves_the_pixels_alone(wan_t2v, tmp_path):
    steps: list[tuple[int, int]] = []
    watched = wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=5,
                                     cache_dir=tmp_path / "a", on_step=lambda step, total: steps.append((step, total)))
    assert steps == [(1, 2), (2, 2)]            # TINY: 2 inference steps
    plain = wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=5, cache_dir=tmp_path / "b")
    assert plain.key == watched.key and np.array_equal(frames_of(plain.path), frames_of(watched.path))
    # a cache hit generates nothing, so it has no steps to report
    wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=5, cache_dir=tmp_path / "a",
                           on_step=lambda step, total: steps.append((step, total)))
    assert steps == [(1, 2), (2, 2)]


@pytest.mark.slow
def test_cache_hit_runs_no_generation_and_reuses_the_file(wan_t2v, tmp_path):
    made = wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=11, cache_dir=tmp_path)
    runs, mtime = wan_t2v.generations_run, made.path.stat().st_mtime_ns

    hit = wan_t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=11, cache_dir=tmp_path)

    assert wan_t2v.generations_run == runs
    assert hit == made
    assert hit.path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{made.key}.mp4", f"{made.key}.json"])

    changed = wan_t2v.make_base_clip(prompt=PROMPT + ", at dusk", negative_prompt=NEGATIVE, image=None, seed=11,
                                     cache_dir=tmp_path)
    assert wan_t2v.generations_run == runs + 1 and changed.key != made.key


@pytest.mark.slow
def test_i2v_clip_records_the_conditioning_image(tiny, product_photo, tmp_path):
    backend = DiffusionBackend(DiffusionSettings(model=str(tiny["wan_i2v"]), task="i2v", **TINY))
    assert backend.pipeline_class == "WanImageToVideoPipeline"

    clip = backend.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=product_photo, seed=5,
                                  cache_dir=tmp_path)

    assert frames_of(clip.path).shape == (9, 48, 48, 3)
    params = json.loads(clip.params_json)
    assert params["image_sha256"] == hashlib.sha256(product_photo.read_bytes()).hexdigest()
    assert params["pipeline_class"] == "WanImageToVideoPipeline" and params["task"] == "i2v"
    assert params["image_fit"].startswith("exif-transpose")

    with pytest.raises(ValueError, match="needs a conditioning `image`"):
        backend.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=5, cache_dir=tmp_path)


@pytest.mark.slow
def test_ltx_text_and_image_to_video(tiny, product_photo, tmp_path):
    t2v = DiffusionBackend(DiffusionSettings(model=str(tiny["ltx"]), task="t2v", cache="pyramid_attention_broadcast",
                                             **TINY))
    # the checkpoint's model_index names LTXPipeline; task i2v switches to LTXImageToVideoPipeline (same weights)
    i2v = DiffusionBackend(DiffusionSettings(model=str(tiny["ltx"]), task="i2v", **TINY))

    a = t2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=1, cache_dir=tmp_path)
    b = i2v.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=product_photo, seed=1, cache_dir=tmp_path)

    assert json.loads(a.params_json)["pipeline_class"] == "LTXPipeline"
    assert json.loads(a.params_json)["speedups"]["cache"] == "pyramid_attention_broadcast"
    assert json.loads(b.params_json)["pipeline_class"] == "LTXImageToVideoPipeline"
    assert frames_of(a.path).shape == frames_of(b.path).shape == (9, 48, 48, 3)


@pytest.mark.slow
def test_first_block_cache_and_lora_are_applied_and_recorded(tiny, tmp_path):
    plain = DiffusionBackend(DiffusionSettings(model=str(tiny["wan_t2v"]), **TINY))
    tuned = DiffusionBackend(DiffusionSettings(model=str(tiny["wan_t2v"]), cache="first_block",
                                               lora=str(tiny["wan_lora"]), **TINY))
    assert tuned.pipe.transformer.is_cache_enabled
    assert "default_0" in tuned.pipe.get_list_adapters()["transformer"]

    a = plain.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=2, cache_dir=tmp_path)
    b = tuned.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=2, cache_dir=tmp_path)

    speedups = json.loads(b.params_json)["speedups"]
    assert speedups["cache"] == "first_block"
    assert speedups["lora"] == {"sha256": hashlib.sha256(tiny["wan_lora"].read_bytes()).hexdigest()}
    assert a.key != b.key
    assert not np.array_equal(frames_of(a.path), frames_of(b.path))


@pytest.mark.slow
def test_regional_compile_gives_the_same_frames(tiny, tmp_path):
    plain = DiffusionBackend(DiffusionSettings(model=str(tiny["wan_t2v"]), **TINY))
    compiled = DiffusionBackend(DiffusionSettings(model=str(tiny["wan_t2v"]), compile=True, **TINY))

    a = plain.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=9, cache_dir=tmp_path)
    b = compiled.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=9, cache_dir=tmp_path)

    assert json.loads(b.params_json)["speedups"]["compile"] is True and a.key != b.key
    # inductor may reorder float ops: allow one 8-bit step of difference
    assert np.abs(frames_of(a.path).astype(int) - frames_of(b.path).astype(int)).max() <= 2


def test_missing_models_fail_closed_naming_the_model(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(GenerationError, match="no-such-model"):
        load_pipeline(DiffusionSettings(model=str(missing), **TINY))
    with pytest.raises(GenerationError, match="no-such-model"):
        DiffusionBackend(DiffusionSettings(model=str(missing), **TINY))

    # a hub id goes through the same from_pretrained call; offline and not cached it fails naming it
    with pytest.raises(GenerationError, match="tessera-test/not-cached-model"):
        load_pipeline(DiffusionSettings(model="tessera-test/not-cached-model", revision="0" * 40, **TINY))
    with pytest.raises(ValueError, match="pinned to a 40-hex commit"):
        load_pipeline(DiffusionSettings(model="tessera-test/not-cached-model", revision="main", **TINY))


def test_bad_settings_are_named(tiny):
    model = str(tiny["wan_t2v"])
    with pytest.raises(ValueError, match="divisible by 16 .* 40 and 32"):
        load_pipeline(DiffusionSettings(model=model, **dict(TINY, width=40)))
    with pytest.raises(ValueError, match=r"`num_frames` has to be 4\*k\+1 .* 10"):
        load_pipeline(DiffusionSettings(model=model, **dict(TINY, num_frames=10)))
    with pytest.raises(ValueError, match="`cache` has to be None or one of .* 'faster_cache'"):
        load_pipeline(DiffusionSettings(model=model, cache="faster_cache", **TINY))
    with pytest.raises(ValueError, match="`cpu_offload` needs device 'cuda'"):
        load_pipeline(DiffusionSettings(model=model, cpu_offload=True, **TINY))
    with pytest.raises(GenerationError, match="Wan t2v checkpoint .* task 'i2v'"):
        load_pipeline(DiffusionSettings(model=model, task="i2v", **TINY))
    with pytest.raises(ValueError, match="`dtype` has to be one of .* 'float64'"):
        load_pipeline(DiffusionSettings(model=model, **dict(TINY, dtype="float64")))


def test_prompt_templates_render_and_name_missing_fields():
    product = {"title": "Trail Runner 2", "description": "a light waterproof running shoe", "category": "shoe"}
    brand = {"name": "Northwind", "style": "bright, minimal", "colors": "teal and white"}
    scene = {"setting": "a misty forest trail", "season": "autumn", "talent": "no people in frame"}

    prompt, negative, template_id = render_prompt("product_hero", product, brand, scene)
    assert "Trail Runner 2" in prompt and "misty forest trail" in prompt and "teal and white" in prompt
    assert "{" not in prompt and "watermark" in negative
    assert template_id.startswith("default/product_hero@sha256:") and len(template_id.split(":")[-1]) == 64
    assert render_prompt("product_hero", product, brand, dict(scene, season="winter")).template_id == template_id

    with pytest.raises(PromptError, match="needs field 'scene_season'"):
        render_prompt("product_hero", product, brand, {"setting": "a beach", "talent": "a runner"})
    with pytest.raises(PromptError, match="unknown prompt template 'nope'"):
        render_prompt("nope", product, brand, scene)


@pytest.mark.slow
def test_prompt_from_a_template_drives_a_clip(wan_t2v, tmp_path):
    rendered = render_prompt(
        "product_lifestyle",
        {"title": "Trail Runner 2", "description": "a light running shoe", "category": "shoe"},
        {"name": "Northwind", "style": "minimal", "colors": "teal"},
        {"setting": "a city park", "season": "spring", "talent": "a young adult runner"},
    )
    clip = wan_t2v.make_base_clip(prompt=rendered.prompt, negative_prompt=rendered.negative_prompt, image=None,
                                  seed=1, cache_dir=tmp_path)
    assert json.loads(clip.params_json)["prompt"] == rendered.prompt


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.cuda
@cuda
def test_cuda_clip_records_the_gpu(tiny, tmp_path):
    backend = DiffusionBackend(DiffusionSettings(model=str(tiny["wan_t2v"]), **dict(TINY, device="cuda")))
    clip = backend.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=1, cache_dir=tmp_path)
    params = json.loads(clip.params_json)
    assert params["device"] == "cuda" and params["effective"]["gpu"] == torch.cuda.get_device_name()


@pytest.mark.cuda
@cuda
def test_cuda_oom_retries_once_with_memory_savers_then_raises(tiny, tmp_path):
    # A real OOM: the weights are on the GPU, then this process may use almost no more GPU memory.
    settings = DiffusionSettings(model=str(tiny["wan_t2v"]), **dict(TINY, device="cuda", width=256, height=256))
    backend = DiffusionBackend(settings)
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(torch.cuda.memory_allocated() / total + 1e-6)
    try:
        with pytest.raises(GenerationError, match="out of memory again after retrying with cpu offload and VAE tiling"):
            backend.make_base_clip(prompt=PROMPT, negative_prompt=NEGATIVE, image=None, seed=1, cache_dir=tmp_path)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    assert backend.generations_run == 2
    assert backend.memory_savers_on and backend.oom_retry_reason
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left to be mistaken for a clip
