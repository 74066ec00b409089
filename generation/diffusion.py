"""Diffusion backend: locale-agnostic base clips from a video diffusion model, through diffusers.

One `DiffusionBackend` holds one loaded pipeline for a whole run (loaded once, not per
clip) and turns (prompt, negative prompt, optional conditioning image, seed) into a
`BaseClip`, cached on disk by a content key.

Supported families, detected from the pipeline class the checkpoint loads as:

    family  t2v              i2v
    wan     WanPipeline      WanImageToVideoPipeline   (Wan 2.1 T2V/I2V, Wan 2.2 incl. TI2V 5B)
    ltx     LTXPipeline      LTXImageToVideoPipeline   (LTX-Video)

A checkpoint whose model_index names the other task's class of the same family is
switched with `from_pipe` (same weights, no copy) when its transformer fits the task
(LTX: always; Wan: i2v needs an image-conditioned transformer or `expand_timesteps`).

Canvas. The composer crops and places one square base clip for every aspect ratio
(9:16, 1:1, 16:9), so the stored clip is square, `size` x `size`:
  1. the model generates at `width` x `height`. Pick a size near the model's native
     pixel area; a square one wastes nothing, e.g. Wan 480p (832x480) -> 624x624,
     Wan 720p (1280x720) -> 960x960, LTX 704x480 -> 576x576 (multiples of 16 for Wan,
     32 for LTX);
  2. each frame is center-cropped to its largest square (a no-op for square sizes);
  3. then resized to `size` x `size` with Lanczos (a no-op when they already match).
  The method, the crop box and the sizes are recorded in params_json ("canvas").
  For i2v the conditioning image is first center-cropped to the generation aspect and
  resized to `width` x `height`, so the product is never stretched.

Content key: sha256 of the canonical JSON of the "request": the model identity (hub id +
pinned commit, or a local folder's content hash), the pipeline class, every setting,
prompt, negative prompt, conditioning image sha256, seed, the canvas method and the
torch / diffusers / transformers versions. params_json holds the request plus what
actually happened ("effective": memory savers on, OOM retry), and the key.

Out of memory on CUDA: the clip is retried once with cpu offload + VAE tiling switched
on (they stay on for the rest of the run), and that is recorded; a second failure, or a
first one when both were already on, raises `GenerationError` with the reason.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import diffusers
import numpy as np
import torch
import transformers
from diffusers import DiffusionPipeline
from PIL import Image, ImageOps

from foundation.frames import write_clip
from generation.backends import GenerationError, OnStep
from foundation.primitives import SourceType, canonical_json, sha256_file, sha256_text, write_text_atomic
from foundation.records import BaseClip

__all__ = [
    "DIGITAL_SOURCE_TYPE",
    "DiffusionBackend",
    "DiffusionSettings",
    "GenerationError",
    "folder_sha256",
    "load_pipeline",
]

DIGITAL_SOURCE_TYPE = SourceType.TRAINED_ALGORITHMIC_MEDIA.value
BACKEND = "diffusers"
TASKS = ("t2v", "i2v")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DEVICES = ("cuda", "cpu", "auto")
# Caches that work with both families in the installed diffusers (0.42): FirstBlockCache
# and Pyramid Attention Broadcast. FasterCache is not offered: its unconditional-batch
# skip assumes CFG batched into one forward (Wan runs cond/uncond as two calls) and its
# frequency split assumes BCFHW/BFCHW outputs (LTX returns packed tokens); both fail.
CACHES = ("first_block", "pyramid_attention_broadcast")
# pipeline class name -> (family, task)
PIPELINE_FAMILIES: dict[str, tuple[str, str]] = {
    "WanPipeline": ("wan", "t2v"),
    "WanImageToVideoPipeline": ("wan", "i2v"),
    "LTXPipeline": ("ltx", "t2v"),
    "LTXImageToVideoPipeline": ("ltx", "i2v"),
}
CANVAS_METHOD = "center-crop to square, lanczos resize to size x size"
IMAGE_FIT_METHOD = "exif-transpose, RGB, center-crop to width:height, lanczos resize to width x height"
_COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class DiffusionSettings:
    """Everything that chooses and drives the diffusion model for one run."""
    model: str                          # hub id ("Wan-AI/Wan2.1-T2V-1.3B-Diffusers") or a local folder
    revision: str | None = None         # pinned 40-hex commit, required for a hub id; None for a local folder
    task: str = "t2v"                   # "t2v" | "i2v"
    dtype: str = "bfloat16"             # "float32" | "bfloat16" | "float16"
    device: str = "auto"                # "cuda" | "cpu" | "auto" (cuda when available)
    num_inference_steps: int = 30
    guidance_scale: float = 5.0
    width: int = 624                    # generation size; see "Canvas" in the module docstring
    height: int = 624
    num_frames: int = 81
    fps: int = 16
    size: int = 1080                    # side of the stored square base clip
    cpu_offload: bool = False           # model cpu offload (CUDA only)
    vae_tiling: bool = False
    compile: bool = False               # regional torch.compile of the transformer's repeated blocks
    cache: str | None = None            # one of CACHES, or None
    lora: str | None = None             # LoRA weights: a .safetensors file or a folder holding one


# --------------------------------------------------------------------------- checks


def check_settings(settings: DiffusionSettings) -> None:
    """Raise a concise ValueError naming the first bad setting."""
    if not settings.model:
        raise ValueError("`model` is empty: give a hub id or a local folder")
    if settings.task not in TASKS:
        raise ValueError(f"`task` has to be one of {TASKS} but is {settings.task!r}")
    if settings.dtype not in DTYPES:
        raise ValueError(f"`dtype` has to be one of {tuple(DTYPES)} but is {settings.dtype!r}")
    if settings.device not in DEVICES:
        raise ValueError(f"`device` has to be one of {DEVICES} but is {settings.device!r}")
    for name in ("num_inference_steps", "width", "height", "num_frames", "fps", "size"):
        value = getattr(settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{name}` has to be a positive integer but is {value!r}")
    if not isinstance(settings.guidance_scale, (int, float)) or settings.guidance_scale < 0:
        raise ValueError(f"`guidance_scale` has to be a number >= 0 but is {settings.guidance_scale!r}")
    if settings.cache is not None and settings.cache not in CACHES:
        raise ValueError(f"`cache` has to be None or one of {CACHES} but is {settings.cache!r}")
    if settings.lora is not None and not Path(settings.lora).exists():
        raise ValueError(f"`lora` file or folder not found: {settings.lora}")


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise GenerationError("device 'cuda' was asked for but torch sees no CUDA device")
    return device


def _is_local(model: str) -> bool:
    return Path(model).expanduser().is_dir()


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", ".", "~")) or os.sep in model.replace("/", "", 1) or Path(model).exists()


def check_model_source(settings: DiffusionSettings) -> None:
    """A local folder must exist and carry no revision; a hub id needs a pinned commit."""
    if _is_local(settings.model):
        if settings.revision is not None:
            raise ValueError(
                f"`revision` {settings.revision!r} given for local folder {settings.model}: a local folder is "
                "identified by its content hash; leave `revision` None"
            )
        return
    if _looks_like_path(settings.model):
        raise GenerationError(f"model folder not found: {settings.model}")
    if settings.revision is None or not _COMMIT.fullmatch(settings.revision):
        raise ValueError(
            f"hub model {settings.model!r} needs `revision` pinned to a 40-hex commit hash, got {settings.revision!r}"
        )


def check_pipeline_fits(pipe: DiffusionPipeline, settings: DiffusionSettings, family: str) -> None:
    """Size and frame-count rules of the loaded family (from its VAE and patch sizes)."""
    if family == "wan":
        spatial = pipe.vae_scale_factor_spatial * pipe.transformer.config.patch_size[1]
        temporal = pipe.vae_scale_factor_temporal
    else:  # ltx: the pipeline itself requires multiples of 32
        spatial = 32
        temporal = pipe.vae_temporal_compression_ratio
    if settings.width % spatial or settings.height % spatial:
        raise ValueError(
            f"`width` and `height` have to be divisible by {spatial} for {type(pipe).__name__} "
            f"but are {settings.width} and {settings.height}"
        )
    if (settings.num_frames - 1) % temporal:
        raise ValueError(
            f"`num_frames` has to be {temporal}*k+1 for {type(pipe).__name__} but is {settings.num_frames}"
        )


# --------------------------------------------------------------------------- hashing


def folder_sha256(folder: Path) -> str:
    """Content hash of a model folder: every file (sorted relative path + its sha256).

    Paths with a component starting with "." (e.g. the hub client's .cache/ metadata) are
    left out, so a folder's identity is its model files only. Reads every byte once.
    """
    folder = Path(folder).expanduser()
    files = sorted(
        p for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not files:
        raise GenerationError(f"model folder {folder} holds no files")
    return sha256_text("".join(f"{path.relative_to(folder).as_posix()}\0{sha256_file(path)}\n" for path in files))


# --------------------------------------------------------------------------- loading


def _switch_task(pipe: DiffusionPipeline, settings: DiffusionSettings) -> DiffusionPipeline:
    """The pipeline class for settings.task within the loaded family (from_pipe shares the weights)."""
    name = type(pipe).__name__
    if name not in PIPELINE_FAMILIES:
        raise GenerationError(
            f"model {settings.model!r} loads as {name}, which Tessera does not support; "
            f"supported: {sorted(PIPELINE_FAMILIES)}"
        )
    family, task = PIPELINE_FAMILIES[name]
    if task == settings.task:
        return pipe
    if family == "wan":
        config = pipe.transformer.config
        image_conditioned = config.in_channels == 2 * config.out_channels + 4
        wants_image = settings.task == "i2v"
        if not pipe.config.get("expand_timesteps", False) and image_conditioned != wants_image:
            raise GenerationError(
                f"model {settings.model!r} is a Wan {task} checkpoint (transformer in_channels="
                f"{config.in_channels}); task {settings.task!r} needs a {settings.task} checkpoint"
            )
    target = next(cls for cls, (fam, t) in PIPELINE_FAMILIES.items() if fam == family and t == settings.task)
    return getattr(diffusers, target).from_pipe(pipe)


def _cache_config(name: str, pipe: DiffusionPipeline) -> Any:
    from diffusers.hooks import FirstBlockCacheConfig, PyramidAttentionBroadcastConfig

    if name == "first_block":
        return FirstBlockCacheConfig(threshold=0.05)
    return PyramidAttentionBroadcastConfig(
        spatial_attention_block_skip_range=2,
        spatial_attention_timestep_skip_range=(100, 800),
        current_timestep_callback=lambda: pipe.current_timestep,
    )


def _transformers(pipe: DiffusionPipeline) -> list[torch.nn.Module]:
    """The denoisers (Wan 2.2 A14B has two: transformer and transformer_2)."""
    return [m for m in (getattr(pipe, "transformer", None), getattr(pipe, "transformer_2", None)) if m is not None]


def enable_memory_savers(pipe: DiffusionPipeline, device: str) -> None:
    """Model cpu offload (one component on the GPU at a time) + VAE tiling."""
    pipe.enable_model_cpu_offload(device=device)
    pipe.vae.enable_tiling()


def load_pipeline(settings: DiffusionSettings) -> DiffusionPipeline:
    """Load the model once and apply every setting; the same call for hub ids and local folders.

    Hub access follows huggingface_hub's own configuration (HF_HUB_OFFLINE=1: local cache
    only). A model that cannot be found or loaded raises GenerationError naming it.
    """
    # 1. Check settings and where the model comes from
    check_settings(settings)
    device = resolve_device(settings.device)
    if settings.cpu_offload and device != "cuda":
        raise ValueError(f"`cpu_offload` needs device 'cuda' but the device is {device!r}")
    check_model_source(settings)

    # 2. Load (diffusers picks the pipeline class from the checkpoint's model_index.json)
    try:
        pipe = DiffusionPipeline.from_pretrained(
            settings.model, revision=settings.revision, torch_dtype=DTYPES[settings.dtype]
        )
    except (OSError, ValueError) as err:
        where = f" at revision {settings.revision}" if settings.revision else ""
        raise GenerationError(f"cannot load model {settings.model!r}{where}: {err}") from err

    # 3. Family and task
    pipe = _switch_task(pipe, settings)
    family, _ = PIPELINE_FAMILIES[type(pipe).__name__]
    check_pipeline_fits(pipe, settings, family)

    # 4. LoRA (before compile and caches, which wrap the layers it patches)
    if settings.lora is not None:
        lora = Path(settings.lora)
        try:
            if lora.is_file():
                pipe.load_lora_weights(str(lora.parent), weight_name=lora.name)
            else:
                pipe.load_lora_weights(str(lora))
        except (OSError, ValueError) as err:
            raise GenerationError(f"cannot load LoRA {settings.lora} into {settings.model!r}: {err}") from err

    # 5. Step cache on the denoiser(s)
    if settings.cache is not None:
        for transformer in _transformers(pipe):
            transformer.enable_cache(_cache_config(settings.cache, pipe))

    # 6. Placement and memory
    if settings.cpu_offload:
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    if settings.vae_tiling:
        pipe.vae.enable_tiling()

    # 7. Regional compile: each repeated transformer block is compiled once and reused
    if settings.compile:
        for transformer in _transformers(pipe):
            transformer.compile_repeated_blocks(fullgraph=True)

    # diffusers' own tqdm bar would write over the caller's progress; steps go through on_step instead.
    pipe.set_progress_bar_config(disable=True)
    return pipe


# --------------------------------------------------------------------------- frames


def fit_image(image: Image.Image, width: int, height: int) -> Image.Image:
    """Center-crop to width:height and resize to width x height (never stretches)."""
    image = ImageOps.exif_transpose(image).convert("RGB")
    return ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def square_crop_box(width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the largest centered square."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def duration_order(generated: int, target: int) -> tuple[list[int], str]:
    """Which generated frame each of `target` frames shows, and how: "as generated", "cut" (the first
    target frames), or "ping-pong" (forward, then backward, and so on: the motion keeps its speed and
    never jumps, which a loop or slowing it down would not give)."""
    if target == generated:
        return list(range(generated)), "as generated"
    if target < generated:
        return list(range(target)), "cut"
    period = max(1, 2 * (generated - 1))
    return [i % period if i % period < generated else period - i % period for i in range(target)], "ping-pong"


def to_canvas(frames: np.ndarray, size: int, order: list[int] | None = None) -> Iterator[np.ndarray]:
    """Float frames in [0, 1] (F, H, W, 3) -> uint8 RGB size x size frames (center square, Lanczos),
    in `order` (indices into frames; default: each once, in order)."""
    box = square_crop_box(frames.shape[2], frames.shape[1])
    for i in range(len(frames)) if order is None else order:
        frame = frames[i]
        pixels = (np.clip(frame, 0.0, 1.0) * 255.0).round().astype(np.uint8)
        square = pixels[box[1]:box[3], box[0]:box[2]]
        if square.shape[0] != size:
            square = np.asarray(Image.fromarray(square).resize((size, size), Image.Resampling.LANCZOS))
        yield square


# --------------------------------------------------------------------------- backend


class DiffusionBackend:
    """One loaded diffusion pipeline for a run; makes cached base clips."""

    def __init__(self, settings: DiffusionSettings) -> None:
        check_settings(settings)
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.model_identity = self._identify(settings)
        self.pipe = load_pipeline(settings)
        self.pipeline_class = type(self.pipe).__name__
        self.family = PIPELINE_FAMILIES[self.pipeline_class][0]
        self.memory_savers_on = settings.cpu_offload and settings.vae_tiling
        self.oom_retry_reason: str | None = None   # set when an OOM turned the memory savers on
        self.generations_run = 0                   # pipeline calls that actually ran (cache hits do not count)

    @staticmethod
    def _identify(settings: DiffusionSettings) -> dict[str, Any]:
        check_model_source(settings)
        if _is_local(settings.model):
            return {"source": "local", "folder_sha256": folder_sha256(Path(settings.model))}
        return {"source": "hub", "id": settings.model, "revision": settings.revision}

    def _request(self, prompt: str, negative_prompt: str, image_sha256: str | None, seed: int) -> dict[str, Any]:
        """Everything that shapes the pixels; its canonical JSON hashes to the content key."""
        s = self.settings
        lora = None
        if s.lora is not None:
            path = Path(s.lora)
            lora = {"sha256": sha256_file(path) if path.is_file() else folder_sha256(path)}
        return {
            "backend": BACKEND,
            "model": self.model_identity,
            "pipeline_class": self.pipeline_class,
            "task": s.task,
            "dtype": s.dtype,
            "device": self.device,
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "image_sha256": image_sha256,
            "image_fit": IMAGE_FIT_METHOD if image_sha256 else None,
            "seed": seed,
            "generator": "torch.Generator('cpu').manual_seed(seed)",
            "num_inference_steps": s.num_inference_steps,
            "guidance_scale": float(s.guidance_scale),
            "width": s.width,
            "height": s.height,
            "num_frames": s.num_frames,
            "fps": s.fps,
            "size": s.size,
            "canvas_method": CANVAS_METHOD,
            "speedups": {
                "cpu_offload": s.cpu_offload,
                "vae_tiling": s.vae_tiling,
                "compile": s.compile,
                "cache": s.cache,
                "lora": lora,
            },
            "versions": {
                "torch": torch.__version__,
                "diffusers": diffusers.__version__,
                "transformers": transformers.__version__,
            },
        }

    def check_inputs(self, prompt: str, negative_prompt: str, image: Path | None, seed: int) -> None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"`prompt` has to be a non-empty string but is {prompt!r}")
        if not isinstance(negative_prompt, str):
            raise ValueError(f"`negative_prompt` has to be a string but is {type(negative_prompt).__name__}")
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise ValueError(f"`seed` has to be an integer in [0, 2**63) but is {seed!r}")
        if self.settings.task == "i2v" and image is None:
            raise ValueError(f"task 'i2v' ({self.pipeline_class}) needs a conditioning `image`")
        if self.settings.task == "t2v" and image is not None:
            raise ValueError(f"task 't2v' ({self.pipeline_class}) takes no `image`, got {image}")
        if image is not None and not Path(image).is_file():
            raise ValueError(f"conditioning `image` not found: {image}")

    def make_base_clip(
        self,
        *,
        prompt: str,
        negative_prompt: str,
        image: Path | None,
        seed: int,
        cache_dir: Path,
        on_step: OnStep | None = None,
        duration_s: float | None = None,
    ) -> BaseClip:
        """The base clip for these inputs: from cache_dir when its key is there, else generated and stored.
        on_step(step, steps): after each denoising step of a generation (a cache hit has none).
        duration_s: the clip's length (the product's duration): the generated frames are cut or played
        ping-pong to round(duration_s * fps) frames (duration_order); None keeps them as generated."""
        # 1. Check inputs
        self.check_inputs(prompt, negative_prompt, image, seed)
        if duration_s is not None and (isinstance(duration_s, bool) or not isinstance(duration_s, (int, float))
                                       or not 0 < duration_s <= 600 or round(duration_s * self.settings.fps) < 1):
            raise ValueError(f"`duration_s` has to be a positive duration of at least one frame but is {duration_s!r}")

        # 2. Content key (the duration only where one is asked for, so earlier keys stay as they were)
        image_sha256 = sha256_file(Path(image)) if image is not None else None
        request = self._request(prompt, negative_prompt, image_sha256, seed)
        if duration_s is not None:
            request["duration_s"] = float(duration_s)
        key = sha256_text(canonical_json(request))
        cache_dir = Path(cache_dir)
        clip_path, sidecar_path = cache_dir / f"{key}.mp4", cache_dir / f"{key}.json"

        # 3. Cache hit: the sidecar is written last, so its presence means the clip is complete
        if sidecar_path.is_file() and clip_path.is_file():
            return self._read_sidecar(sidecar_path, clip_path, key)

        # 4. Conditioning image, fitted to the generation size
        call_image = None
        if image is not None:
            with Image.open(image) as opened:
                call_image = fit_image(opened, self.settings.width, self.settings.height)

        # 5. Generate (one retry with memory savers on CUDA OOM)
        frames = self._generate_with_retry(prompt, negative_prompt, call_image, seed, on_step)

        # 6. To the asked duration, on the square canvas, written losslessly, then the sidecar
        target = len(frames) if duration_s is None else round(duration_s * self.settings.fps)
        order, method = duration_order(len(frames), target)
        cache_dir.mkdir(parents=True, exist_ok=True)
        count = write_clip(to_canvas(frames, self.settings.size, order), clip_path, fps=self.settings.fps)
        params = {
            **request,
            "key": key,
            "model_path": self.settings.model if self.model_identity["source"] == "local" else None,
            "lora_path": self.settings.lora,
            # Named fields, not integer arrays: these parameters go into the signed manifest (see provenance/manifest.py).
            "canvas": {
                "generated": {"width": int(frames.shape[2]), "height": int(frames.shape[1])},
                "crop_box": dict(zip(("left", "top", "right", "bottom"),
                                     map(int, square_crop_box(int(frames.shape[2]), int(frames.shape[1]))))),
                "size": {"width": self.settings.size, "height": self.settings.size},
            },
            "duration": {"generated_frames": int(len(frames)), "frames": count, "method": method},
            "effective": {
                "cpu_offload": self.settings.cpu_offload or self.oom_retry_reason is not None,
                "vae_tiling": self.settings.vae_tiling or self.oom_retry_reason is not None,
                "oom_retry": None if self.oom_retry_reason is None else {"reason": self.oom_retry_reason},
                "gpu": torch.cuda.get_device_name() if self.device == "cuda" else None,
            },
        }
        clip = BaseClip(
            path=clip_path, key=key, width=self.settings.size, height=self.settings.size, fps=self.settings.fps,
            frames=count, backend=BACKEND, digital_source_type=DIGITAL_SOURCE_TYPE, params_json=canonical_json(params),
        )
        self._write_sidecar(sidecar_path, clip)
        return clip

    def _generate(self, prompt: str, negative_prompt: str, image: Image.Image | None, seed: int,
                  on_step: OnStep | None = None) -> np.ndarray:
        s = self.settings
        kwargs: dict[str, Any] = {
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "height": s.height,
            "width": s.width,
            "num_frames": s.num_frames,
            "num_inference_steps": s.num_inference_steps,
            "guidance_scale": s.guidance_scale,
            "generator": torch.Generator("cpu").manual_seed(seed),
            "output_type": "np",
        }
        if image is not None:
            kwargs["image"] = image
        if self.family == "ltx":
            kwargs["frame_rate"] = s.fps
        if on_step is not None:
            def step_ended(pipe: Any, i: int, t: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
                on_step(i + 1, getattr(pipe, "num_timesteps", None) or s.num_inference_steps)
                return callback_kwargs     # unchanged: reporting never touches the latents
            kwargs["callback_on_step_end"] = step_ended
        self.generations_run += 1
        frames = np.asarray(self.pipe(**kwargs).frames[0])
        expected = (s.num_frames, s.height, s.width, 3)
        if frames.shape != expected:
            raise GenerationError(
                f"{self.pipeline_class} returned frames of shape {frames.shape}, expected {expected}"
            )
        return frames

    def _generate_with_retry(
        self, prompt: str, negative_prompt: str, image: Image.Image | None, seed: int, on_step: OnStep | None = None
    ) -> np.ndarray:
        try:
            return self._generate(prompt, negative_prompt, image, seed, on_step)
        except torch.cuda.OutOfMemoryError as err:
            reason = str(err).splitlines()[0] if str(err) else "CUDA out of memory"
            if self.memory_savers_on:
                raise GenerationError(
                    f"{self.settings.model!r}: CUDA out of memory with cpu offload and VAE tiling already on: {reason}"
                ) from err
        # Retry once, outside the except block so the failed call's tensors are released first.
        torch.cuda.empty_cache()
        enable_memory_savers(self.pipe, self.device)
        self.memory_savers_on = True
        self.oom_retry_reason = reason
        try:
            return self._generate(prompt, negative_prompt, image, seed, on_step)
        except torch.cuda.OutOfMemoryError as err:
            raise GenerationError(
                f"{self.settings.model!r}: CUDA out of memory again after retrying with cpu offload and VAE "
                f"tiling: {str(err).splitlines()[0] if str(err) else 'CUDA out of memory'}"
            ) from err

    @staticmethod
    def _write_sidecar(path: Path, clip: BaseClip) -> None:
        record = {**asdict(clip), "path": clip.path.name}
        write_text_atomic(path, canonical_json(record))

    @staticmethod
    def _read_sidecar(path: Path, clip_path: Path, key: str) -> BaseClip:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("key") != key or record.get("path") != clip_path.name:
            raise GenerationError(f"base clip sidecar {path} does not belong to key {key}")
        return BaseClip(
            path=clip_path, key=key, width=record["width"], height=record["height"], fps=record["fps"],
            frames=record["frames"], backend=record["backend"],
            digital_source_type=record["digital_source_type"], params_json=record["params_json"],
        )
