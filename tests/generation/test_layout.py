"""Output sizes and safe zones per aspect ratio."""
from __future__ import annotations

import pytest

from generation.layout import ASPECTS, SAFE_ZONES, layout_for, output_size


@pytest.mark.parametrize("aspect, short, size", [
    ("9:16", 720, (720, 1280)), ("1:1", 720, (720, 720)), ("16:9", 720, (1280, 720)),
    ("9:16", 1080, (1080, 1920)), ("16:9", 240, (426, 240)), ("9:16", 241, (240, 426)), ("9:16", 480, (480, 854)),
])
def test_output_sizes_are_even(aspect, short, size):
    assert output_size(aspect, short) == size
    assert all(v % 2 == 0 for v in size)


def test_unknown_aspect_is_named():
    with pytest.raises(ValueError, match="aspect '4:5'"):
        output_size("4:5", 720)


def test_safe_zone_data_matches_the_platform_notes():
    z = SAFE_ZONES["9:16"]
    # TikTok keeps 150 px top, 440 px bottom, 150 px right of 1080x1920 clear; Reels 6 % at the sides.
    assert z.top >= 150 / 1920 and z.bottom >= 440 / 1920 and z.right >= 150 / 1080 and z.left >= 0.06
    assert all(getattr(SAFE_ZONES[a], side) == 0.05 for a in ("1:1", "16:9")
               for side in ("top", "bottom", "left", "right"))


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("short", [240, 720, 1080])
@pytest.mark.parametrize("rtl", [False, True])
def test_text_boxes_stay_in_the_safe_zone(aspect, short, rtl):
    w, h = output_size(aspect, short)
    layout = layout_for(aspect, w, h, rtl=rtl)
    zone = SAFE_ZONES[aspect]
    assert layout.safe.x >= zone.left * w - 0.5 and layout.safe.right <= (1 - zone.right) * w + 0.5
    assert layout.safe.y >= zone.top * h - 0.5 and layout.safe.bottom <= (1 - zone.bottom) * h + 0.5
    for name, box in layout.text_boxes().items():
        assert layout.safe.contains(box), name
        assert box.w > 0 and box.h > 0
    # The clip is square and inside the frame; labels sit in the top-right corner of the safe zone.
    assert layout.clip.w == layout.clip.h and layout.clip.x >= 0 and layout.clip.right <= w
    assert layout.labels.right == layout.safe.right and layout.labels.y == layout.safe.y


def test_rtl_mirrors_the_landscape_layout_but_not_the_labels():
    ltr, rtl = layout_for("16:9", 1280, 720), layout_for("16:9", 1280, 720, rtl=True)
    assert ltr.clip.x == 0 and rtl.clip.right == 1280
    assert ltr.headline.x > 640 and rtl.headline.right < 640
    assert rtl.labels == ltr.labels
