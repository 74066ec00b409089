"""Output sizes, platform safe zones and box layouts per aspect ratio (data, not code).

All boxes are fractions of the frame (x0, y0, x1, y1) turned into pixels by
`layout_for`. Text boxes always lie inside the aspect's safe zone; the product
clip may run under platform UI because it carries no text.
"""
from __future__ import annotations

from dataclasses import dataclass

ASPECTS: tuple[str, ...] = ("9:16", "1:1", "16:9")


@dataclass(frozen=True)
class SafeZone:
    """Fractions of the frame kept free of text on each side."""
    top: float
    bottom: float
    left: float
    right: float


# Sources (checked 2026; platforms change their UI, so these are data to revisit, not constants of nature):
# - 9:16: TikTok in-feed guidance keeps the top 150 px, bottom 440 px and right 150 px of 1080x1920 clear
#   (7.8 %, 22.9 %, 13.9 %: profile/navigation on top, caption + music at the bottom, action rail on the
#   right); Meta Stories keeps the top 14 %/bottom 20 % clear and Meta Reels the bottom 35 % and 6 % at the
#   sides. We keep top 10 %, bottom 23 %, left 6 %, right 14 %: TikTok's zone plus Reels' side margin.
#   Reels' 35 % bottom is stricter than this layout; a Reels-only run needs its own zone.
# - 1:1 and 16:9: the 5 % graphics/title-safe inset of EBU R 95 and SMPTE ST 2046-1 (title safe = 90 %).
SAFE_ZONES: dict[str, SafeZone] = {
    "9:16": SafeZone(top=0.10, bottom=0.23, left=0.06, right=0.14),
    "1:1": SafeZone(top=0.05, bottom=0.05, left=0.05, right=0.05),
    "16:9": SafeZone(top=0.05, bottom=0.05, left=0.05, right=0.05),
}

Frac = tuple[float, float, float, float]   # x0, y0, x1, y1 as fractions of width and height

# Label boxes are at least 0.09 of the short side tall: label ink of 5 % of it plus the plate padding.
# Where things go, for left-to-right locales; right-to-left locales mirror every box but the labels,
# which the disclosure rules place top right (EU icon text, GB 45438 explicit label position).
_BOXES: dict[str, dict[str, Frac]] = {
    # Portrait: headline on the brand band above a full-width square clip; captions, then price and CTA
    # side by side, over the clip's lower edge (the bottom UI zone below stays free of text).
    "9:16": {
        "clip": (0.0, 0.265, 1.0, 0.265 + 9 / 16),
        "labels": (0.06, 0.10, 0.86, 0.155),
        "headline": (0.06, 0.155, 0.86, 0.265),
        "captions": (0.06, 0.615, 0.86, 0.69),
        "price": (0.06, 0.695, 0.46, 0.77),
        "cta": (0.46, 0.695, 0.86, 0.77),
    },
    # Square: the clip fills the frame; text bands top and bottom leave the middle (the product) free.
    "1:1": {
        "clip": (0.0, 0.0, 1.0, 1.0),
        "labels": (0.05, 0.05, 0.95, 0.14),
        "headline": (0.05, 0.145, 0.95, 0.285),
        "captions": (0.05, 0.66, 0.95, 0.75),
        "price": (0.05, 0.75, 0.95, 0.85),
        "cta": (0.05, 0.85, 0.95, 0.95),
    },
    # Landscape: square clip on the leading side, a text column on the other.
    "16:9": {
        "clip": (0.0, 0.0, 9 / 16, 1.0),
        "labels": (0.60, 0.05, 0.95, 0.15),
        "headline": (0.60, 0.16, 0.95, 0.42),
        "price": (0.60, 0.43, 0.95, 0.56),
        "captions": (0.60, 0.57, 0.95, 0.77),
        "cta": (0.60, 0.78, 0.95, 0.93),
    },
}

# Text alignment per aspect: "center", or "start" (left for LTR, right for RTL).
_ALIGN: dict[str, str] = {"9:16": "center", "1:1": "center", "16:9": "start"}


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def contains(self, other: Box) -> bool:
        return self.x <= other.x and self.y <= other.y and other.right <= self.right and other.bottom <= self.bottom


@dataclass(frozen=True)
class Layout:
    aspect: str
    width: int
    height: int
    safe: Box           # text-safe rectangle
    clip: Box           # where the square product clip goes
    headline: Box
    price: Box
    cta: Box
    captions: Box
    labels: Box         # disclosure labels, right-aligned in the top-right corner
    align: str          # "center" or "start"
    rtl: bool
    pad: int            # padding between a text plate's edge and its text

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    def text_boxes(self) -> dict[str, Box]:
        return {"labels": self.labels, "headline": self.headline, "price": self.price,
                "cta": self.cta, "captions": self.captions}


def output_size(aspect: str, short_side: int) -> tuple[int, int]:
    """(width, height) for an aspect ratio and short side, both even (yuv420p needs even sizes)."""
    if aspect not in SAFE_ZONES:
        raise ValueError(f"aspect {aspect!r}: expected one of {', '.join(ASPECTS)}")
    if short_side < 16:
        raise ValueError(f"short_side {short_side}: must be at least 16")
    short = short_side - short_side % 2
    num, den = (int(p) for p in aspect.split(":"))
    long_side = 2 * round(short * max(num, den) / min(num, den) / 2)   # nearest even
    return (short, long_side) if num < den else (long_side, short) if num > den else (short, short)


def layout_for(aspect: str, width: int, height: int, *, rtl: bool = False) -> Layout:
    """Pixel boxes for one frame size; every text box lies inside the safe zone."""
    if aspect not in _BOXES:
        raise ValueError(f"aspect {aspect!r}: expected one of {', '.join(ASPECTS)}")
    zone = SAFE_ZONES[aspect]
    safe_frac = (zone.left, zone.top, 1 - zone.right, 1 - zone.bottom)
    safe = _to_box(safe_frac, width, height)
    boxes: dict[str, Box] = {}
    for name, frac in _BOXES[aspect].items():
        if rtl and name == "clip":
            frac = (1 - frac[2], frac[1], 1 - frac[0], frac[3])
        elif rtl and name != "labels":
            # Mirror inside the safe zone, not the frame: the 9:16 side margins are asymmetric
            # (the action rail stays on the right whatever the script).
            left, right = safe_frac[0], safe_frac[2]
            frac = (left + right - frac[2], frac[1], left + right - frac[0], frac[3])
        box = _to_box(frac, width, height)
        if name == "clip":
            # The clip is square: take the short side of its box, keep the leading edge (trailing when mirrored).
            side = min(box.w, box.h)
            box = Box(box.right - side if rtl else box.x, box.y, side, side)
        elif not safe.contains(box):
            raise ValueError(f"layout {aspect}: {name} box {box} leaves the safe zone {safe}")
        boxes[name] = box
    return Layout(aspect=aspect, width=width, height=height, safe=safe, align=_ALIGN[aspect], rtl=rtl,
                  pad=max(2, round(0.015 * min(width, height))), **boxes)


def _to_box(frac: Frac, width: int, height: int) -> Box:
    x0, y0 = round(frac[0] * width), round(frac[1] * height)
    x1, y1 = round(frac[2] * width), round(frac[3] * height)
    return Box(x0, y0, x1 - x0, y1 - y0)
