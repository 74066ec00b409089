"""Generation: base clips from product photos (CPU motion), composition per locale and aspect, one final encode."""
from typing import TYPE_CHECKING

from foundation.lazy import lazy_exports

__all__ = [
    "make_base_clip",
    "render_variant",
    "render_variants",
    "text_regions",
    "check_variant_text",
    "VariantJob",
    "format_price",
    "check_coverage",
    "font_for_locale",
    "output_size",
    "layout_for",
    "SAFE_ZONES",
    "BaseClip",
    "VariantSpec",
    "RenderedVariant",
    "FrameHook",
    "GlyphError",
    "TextFitError",
    "write_clip",
    "read_clip",
    "ffmpeg_exe",
]

if TYPE_CHECKING:   # the public names and their modules; imported on first use (foundation.lazy)
    from foundation.frames import ffmpeg_exe, read_clip, write_clip
    from generation.compose import (
        VariantJob,
        check_variant_text,
        format_price,
        render_variant,
        render_variants,
        text_regions,
    )
    from generation.fonts import GlyphError, check_coverage, font_for_locale
    from generation.layout import SAFE_ZONES, layout_for, output_size
    from generation.motion import make_base_clip
    from foundation.records import BaseClip, FrameHook, RenderedVariant, VariantSpec
    from generation.text import TextFitError

__getattr__, __dir__ = lazy_exports(__name__)
