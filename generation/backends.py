"""One interface for the base-clip backends: camera moves over a photo (CPU) and diffusion models (GPU).

A backend turns a product into takes. Each take is described by its recorded parameters
(`take_params`), a plain JSON-able dict that names the backend and everything else the
backend needs to make the same clip again; `make_clip(params, cache_dir)` makes (or finds
in the cache, by content key) the clip those parameters describe. The render records the
parameters in the authorship journal, and the replay check gives them back to the backend
that `backend_for_params` names: no caller branches on the backend.

Contract every backend meets (tests/generation/test_backend_contract.py):
- deterministic: the same parameters give the same frames;
- cached by content key: the same parameters find the stored clip, nothing is made again;
- honest: the clip states its IPTC digital source type and every parameter that made it;
- fails closed: a missing input or model raises GenerationError naming it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from catalogs.schema import BrandKit, Product
from foundation.primitives import pipeline_version
from foundation.records import BaseClip

if TYPE_CHECKING:   # torch is imported only when the diffusion backend is used
    from generation.diffusion import DiffusionBackend, DiffusionSettings

__all__ = ["BaseClipBackend", "GenerationError", "MotionBackend", "DiffusersBackend", "backend_for_params"]


OnStep = Callable[[int, int], None]    # (step, steps), both counted from 1


class GenerationError(RuntimeError):
    """A base clip could not be made; the message says which input or model and why."""


class BaseClipBackend(Protocol):
    name: str              # recorded as the take's "backend" parameter
    needs_gpu: bool        # generations run one at a time under the host's GPU slot

    def take_params(self, product: Product, brand: BrandKit, seed: int) -> dict[str, Any]:
        """The recorded parameters of one take of `product` (JSON-able, names the backend)."""
        ...

    def make_clip(self, params: dict[str, Any], cache_dir: Path, *, on_step: OnStep | None = None) -> BaseClip:
        """The clip `params` describe, from `cache_dir` when its content key is there.
        on_step(step, steps): called after each generation step, by a backend that has steps."""
        ...

    def system(self, clip: BaseClip) -> tuple[str, str]:
        """(name, version) of what made the pixels, for the journal."""
        ...


class MotionBackend:
    """A seeded virtual-camera move over the product photo (generation/motion.py)."""
    name = "motion"
    needs_gpu = False

    def __init__(self, *, size: int, fps: int) -> None:
        self.size, self.fps = size, fps

    def take_params(self, product: Product, brand: BrandKit, seed: int) -> dict[str, Any]:
        return {"backend": self.name, "photo": str(product.photo), "size": self.size, "fps": self.fps,
                "duration_s": product.duration_s, "seed": seed}

    def make_clip(self, params: dict[str, Any], cache_dir: Path, *, on_step: OnStep | None = None) -> BaseClip:
        # A camera move has no generation steps: on_step is never called.
        from generation.motion import make_base_clip
        try:
            return make_base_clip(Path(params["photo"]), cache_dir=cache_dir, size=int(params["size"]),
                                  fps=int(params["fps"]), duration_s=float(params["duration_s"]),
                                  seed=int(params["seed"]))
        except (FileNotFoundError, ValueError) as exc:
            raise GenerationError(f"motion: {exc}") from exc

    def system(self, clip: BaseClip) -> tuple[str, str]:
        return "tessera-motion", pipeline_version()

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> MotionBackend:
        return cls(size=int(params["size"]), fps=int(params["fps"]))


class DiffusersBackend:
    """A video diffusion model through diffusers (generation/diffusion.py), loaded once per run."""
    name = "diffusers"
    needs_gpu = True

    def __init__(self, settings: DiffusionSettings, *, prompt_template: str = "product_hero") -> None:
        from generation.diffusion import DiffusionBackend   # imports torch
        self.settings = settings
        self.prompt_template = prompt_template
        self.model: DiffusionBackend = DiffusionBackend(settings)

    def take_params(self, product: Product, brand: BrandKit, seed: int) -> dict[str, Any]:
        from generation.prompts import product_prompt
        prompt = product_prompt(self.prompt_template, product, brand)
        image = str(product.photo) if self.settings.task == "i2v" else None
        return {"backend": self.name, "settings": asdict(self.settings), "prompt": prompt.prompt,
                "negative_prompt": prompt.negative_prompt, "template": prompt.template_id, "image": image,
                "seed": seed, "duration_s": product.duration_s}

    def make_clip(self, params: dict[str, Any], cache_dir: Path, *, on_step: OnStep | None = None) -> BaseClip:
        image = Path(params["image"]) if params.get("image") else None
        return self.model.make_base_clip(prompt=params["prompt"], negative_prompt=params["negative_prompt"],
                                         image=image, seed=int(params["seed"]), cache_dir=cache_dir,
                                         on_step=on_step, duration_s=params.get("duration_s"))

    def system(self, clip: BaseClip) -> tuple[str, str]:
        import json
        version = self.settings.revision or json.loads(clip.params_json)["model"].get("folder_sha256", "")
        return self.settings.model, version

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> DiffusersBackend:
        from generation.diffusion import DiffusionSettings
        return cls(DiffusionSettings(**params["settings"]))


_BACKENDS: dict[str, type[MotionBackend] | type[DiffusersBackend]] = {
    MotionBackend.name: MotionBackend, DiffusersBackend.name: DiffusersBackend}


def backend_for_params(params: dict[str, Any]) -> BaseClipBackend:
    """The backend that recorded these take parameters, set up to make them again."""
    kind = params.get("backend")
    if kind not in _BACKENDS:
        raise GenerationError(f"unknown backend {kind!r} in recorded parameters (known: {', '.join(_BACKENDS)})")
    return _BACKENDS[kind].from_params(params)
