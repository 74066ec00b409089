"""Records passed between the generation stages and to the rest of the pipeline."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

# Applied to every final RGB frame (H x W x 3, uint8) right before the single
# encode; the watermark stage plugs in here so no second lossy encode happens.
# The frame is the composer's own (a hook may change it in place); what the hook
# returns is encoded, except the boxes of the text layers shown on that frame
# (copy, price, CTA, AI labels): the composer keeps those as composed.
FrameHook = Callable[[int, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class BaseClip:
    """A locale-agnostic clip of one product, stored losslessly and reused by every variant."""
    path: Path                  # lossless video file (readable by the bundled ffmpeg)
    key: str                    # content key: sha256 over every input that shapes the pixels
    width: int
    height: int
    fps: int
    frames: int
    backend: str                # "motion" or "diffusers"
    digital_source_type: str    # IPTC URI of what the clip is (e.g. .../digitalCapture for a photo moved by a camera path)
    params_json: str            # every parameter that made it, canonical JSON (recorded in the manifest and ledger)


@dataclass(frozen=True)
class VariantSpec:
    """Everything the composer needs for one locale x aspect ratio variant."""
    asset_id: str
    sku: str
    locale: str                 # BCP 47 tag, chooses the font and text direction
    aspect: str                 # "9:16", "1:1", "16:9"
    width: int
    height: int
    headline: str
    price_text: str             # already formatted for the locale (Babel)
    cta: str
    captions: tuple[str, ...]
    primary_color: str
    secondary_color: str
    text_color: str
    font_family: str
    labels: tuple[str, ...] = ()   # visible disclosure labels required by the region (may be empty)
    # Minimum ink height of each label, fraction of the short side, aligned with `labels` (from the rule
    # that asks for it); empty: every label at the house default (compose.LABEL_MIN_HEIGHT, 5 %).
    label_min_height: tuple[float, ...] = ()


@dataclass(frozen=True)
class RenderedVariant:
    path: Path                  # the encoded MP4 (H.264, yuv420p, +faststart), not yet signed
    width: int
    height: int
    fps: int
    frames: int
    encoder_json: str           # encoder settings, canonical JSON
