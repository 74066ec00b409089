"""Re-make a take from its recorded parameters alone (the authorship replay check)."""
from __future__ import annotations

from pathlib import Path

from generation.backends import backend_for_params


def rerender_take(params: dict, cache_dir: Path) -> Path:
    """The clip a take's recorded parameters make, rendered anew into an empty cache_dir."""
    cache_dir = Path(cache_dir)
    if any(cache_dir.glob("*.mp4")):
        raise ValueError(f"{cache_dir}: replay needs an empty folder (a cached clip would prove nothing)")
    return backend_for_params(params).make_clip(params, cache_dir).path
