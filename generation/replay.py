"""Re-make a take from its recorded parameters alone (the authorship replay check)."""
from __future__ import annotations

from pathlib import Path

from generation.motion import make_base_clip


def rerender_take(params: dict, cache_dir: Path) -> Path:
    """The clip a take's recorded parameters make, rendered anew into an empty cache_dir."""
    cache_dir = Path(cache_dir)
    if any(cache_dir.glob("*.mp4")):
        raise ValueError(f"{cache_dir}: replay needs an empty folder (a cached clip would prove nothing)")
    if params.get("backend") == "motion":
        return make_base_clip(Path(params["photo"]), cache_dir=cache_dir, size=int(params["size"]),
                              fps=int(params["fps"]), duration_s=float(params["duration_s"]),
                              seed=int(params["seed"])).path
    if params.get("backend") == "diffusers":
        from generation.diffusion import DiffusionBackend, DiffusionSettings

        backend = DiffusionBackend(DiffusionSettings(**params["settings"]))
        image = Path(params["image"]) if params.get("image") else None
        return backend.make_base_clip(prompt=params["prompt"], negative_prompt=params["negative_prompt"],
                                      image=image, seed=int(params["seed"]), cache_dir=cache_dir).path
    raise ValueError(f"unknown backend {params.get('backend')!r} in recorded parameters")
