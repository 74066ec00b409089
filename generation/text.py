"""Shaped text blocks: wrap by Unicode line breaking (or by characters for Japanese/Chinese), shrink to fit, draw.

Word wrapping follows UAX #14 through ICU (PyICU), whose dictionaries find the word boundaries of
Thai, Lao, Khmer and Burmese, which write no spaces between words.

Every measurement and every draw goes through raqm (HarfBuzz + FriBiDi) with the
locale's paragraph direction and language, so Arabic is joined, bidi runs (digits,
currency, Latin names inside RTL copy) come out in visual order, and CJK gets its
localized glyph forms. Lines are wrapped in logical order and each line is shaped
on its own, which is how bidi paragraphs are laid out line by line.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import icu
from PIL import Image, ImageDraw, ImageFont

from generation.fonts import LocaleFont, pil_font

# Kinsoku shori (JIS X 4051): characters that may not start a line, and ones that may not end one.
_NO_LINE_START = set("、。，．・：；？！ー）」』】〕〉》〙〗｝］’”ゝゞヽヾぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々〻‐゠–〜～?!),.:;%")
_NO_LINE_END = set("（「『【〔〈《〘〖｛［‘“([")
_NUMBER_SUFFIXES = set("円元万億％")


class TextFitError(ValueError):
    """A text does not fit its box even at the smallest allowed size.

    Names the locale, the field, the text, the box and the size the text needed at the smallest font
    size (`need_w` x `need_h` px), so a caller can report every overflow of a catalog at once."""

    def __init__(self, message: str, *, locale: str = "", field: str = "", text: str = "",
                 box: tuple[int, int] = (0, 0), need: tuple[int, int] = (0, 0), font_px: int = 0) -> None:
        super().__init__(message)
        self.locale, self.field, self.text, self.box, self.need, self.font_px = locale, field, text, box, need, font_px


@dataclass(frozen=True)
class FittedText:
    text: str
    font: ImageFont.FreeTypeFont
    size: int                       # font size in px
    lines: tuple[str, ...]
    widths: tuple[int, ...]         # shaped advance width of each line, px
    ascent: int
    descent: int
    line_height: int                # baseline-to-baseline distance

    @property
    def width(self) -> int:
        return max(self.widths)

    @property
    def height(self) -> int:
        return self.ascent + self.descent + self.line_height * (len(self.lines) - 1)


def shaped_width(font: ImageFont.FreeTypeFont, text: str, lf: LocaleFont) -> float:
    """Advance width of `text` after shaping (joining, ligatures, kerning) in the locale's direction."""
    return font.getlength(text, direction=lf.direction, language=lf.language)


def break_units(text: str, wrap: str, locale: str = "") -> list[str]:
    """Pieces a line may break between; a piece keeps its leading whitespace.
    "word": the line-break opportunities of UAX #14 for `locale` (ICU, with dictionary breaking)."""
    if wrap == "word":
        units: list[str] = []
        space = ""
        for segment in line_break_segments(text, locale):
            core = segment.rstrip()
            if core:
                units.append(space + core)
                space = segment[len(core):]   # a break's trailing space leads the next piece
            else:
                space += segment
        return units
    units: list[str] = []
    for ch in text:
        if units and _no_break(units[-1][-1], ch):
            units[-1] += ch
        else:
            units.append(ch)
    return units


def line_break_segments(text: str, locale: str = "") -> list[str]:
    """`text` cut at every line-break opportunity ICU's line break iterator finds for `locale`."""
    ustr = icu.UnicodeString(text)
    it = icu.BreakIterator.createLineInstance(icu.Locale(locale.replace("-", "_")))
    it.setText(ustr)
    bounds = [0, *it]          # UTF-16 offsets, as ICU counts; cut the UnicodeString by them
    return [str(ustr[a:b]) for a, b in zip(bounds, bounds[1:])]


def _no_break(prev: str, ch: str) -> bool:
    """In character wrapping, whether a line may not break between `prev` and `ch`."""
    if ch.isspace():
        return False                   # a space starts the next piece (dropped at a line start)
    if prev.isspace():
        return True                    # leading space sticks to its piece
    if ch in _NO_LINE_START or prev in _NO_LINE_END or unicodedata.combining(ch):
        return True
    if unicodedata.category(prev) == "Sc" or (prev.isdigit() and ch in _NUMBER_SUFFIXES):
        return True                    # keep "￥1,299" and "1,299円" whole
    if _katakana(prev) and _katakana(ch):
        return True                    # katakana words (loanwords, brand names) are not split: "コーヒー"
    return not _wide(prev) and not _wide(ch)   # runs of narrow characters (Latin names, prices) stay whole


def _katakana(ch: str) -> bool:
    return "\u30a0" <= ch <= "\u30ff" or "\uff66" <= ch <= "\uff9f"


def _wide(ch: str) -> bool:
    # Ideographs, kana, Hangul and fullwidth forms: each may stand on its own.
    return unicodedata.east_asian_width(ch) in ("W", "F")


def wrap_lines(text: str, font: ImageFont.FreeTypeFont, lf: LocaleFont, max_width: int) -> list[str] | None:
    """Greedy line breaking; None when a single unbreakable piece is wider than `max_width`."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for unit in break_units(paragraph, lf.wrap, lf.locale):
            trial = line + unit if line else unit.lstrip()
            if shaped_width(font, trial, lf) <= max_width:
                line = trial
                continue
            if not line:
                return None
            lines.append(line)
            line = unit.lstrip()
            if shaped_width(font, line, lf) > max_width:
                return None
        if line:
            lines.append(line)
    return lines


def layout_text(text: str, lf: LocaleFont, size: int, max_width: int) -> FittedText | None:
    """The text wrapped at one font size, or None when some piece is too wide."""
    font = pil_font(lf, size, text)
    lines = wrap_lines(text, font, lf, max_width)
    if not lines:
        return None
    ascent, descent = font.getmetrics()
    widths = tuple(int(shaped_width(font, line, lf) + 0.999) for line in lines)
    # Line pitch: the font's ascent + descent, capped at 1.3 em (script faces such as Arabic have tall
    # metrics that would leave wide gaps between lines).
    pitch = min(ascent + descent, round(1.3 * size))
    return FittedText(text=text, font=font, size=size, lines=tuple(lines), widths=widths,
                      ascent=ascent, descent=descent, line_height=pitch)


def fit_text(text: str, lf: LocaleFont, box_w: int, box_h: int, *, max_size: int, min_size: int,
             what: str) -> FittedText:
    """The largest size in [min_size, max_size] at which the wrapped text fits box_w x box_h."""
    best: FittedText | None = None
    lo, hi = min_size, max_size
    while lo <= hi:   # fitting is monotonic in size for greedy wrapping: binary search
        mid = (lo + hi) // 2
        fitted = layout_text(text, lf, mid, box_w)
        if fitted is not None and fitted.height <= box_h:
            best, lo = fitted, mid + 1
        else:
            hi = mid - 1
    if best is None:
        need = needed_size(text, lf, min_size, box_w)
        raise TextFitError(f"{lf.locale}: {what} {text!r} does not fit {box_w}x{box_h} px even at {min_size} px "
                           f"(it needs {need[0]}x{need[1]} px)", locale=lf.locale, field=what, text=text,
                           box=(box_w, box_h), need=need, font_px=min_size)
    return _balanced(best, lf)


def needed_size(text: str, lf: LocaleFont, size: int, box_w: int) -> tuple[int, int]:
    """The box a text needs at font `size`: wrapped to `box_w` when every piece fits that width,
    else as wide as its widest unbreakable piece."""
    font = pil_font(lf, size, text)
    widest = max((shaped_width(font, u.strip(), lf) for p in text.split("\n") for u in break_units(p, lf.wrap, lf.locale)),
                 default=0.0)
    fitted = layout_text(text, lf, size, max(box_w, int(widest + 0.999)))
    if fitted is None:
        return int(widest + 0.999), 0
    return fitted.width, fitted.height


def _balanced(fitted: FittedText, lf: LocaleFont) -> FittedText:
    """The same lines count at the narrowest width: no long first line over a one-word last line.

    Between characters (ja/zh) a narrower measure can move breaks into words (深煎|り), so there
    only a widow (a last line under a third of the widest) is rebalanced; phrase-aware CJK
    breaking would need a segmenter such as BudouX.
    """
    if len(fitted.lines) < 2 or (lf.wrap == "char" and fitted.widths[-1] * 3 >= fitted.width):
        return fitted
    lo, hi = 1, fitted.width
    best = fitted
    while lo < hi:
        mid = (lo + hi) // 2
        trial = layout_text(fitted.text, lf, fitted.size, mid)
        if trial is not None and len(trial.lines) == len(fitted.lines):
            best, hi = trial, mid
        else:
            lo = mid + 1
    return best


def draw_block(fitted: FittedText, lf: LocaleFont, *, color: tuple[int, int, int, int], align: str) -> Image.Image:
    """The lines drawn into a transparent RGBA image of exactly fitted.width x fitted.height."""
    block = Image.new("RGBA", (fitted.width, fitted.height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(block)
    for i, (line, w) in enumerate(zip(fitted.lines, fitted.widths)):
        if align == "center":
            x = (fitted.width - w) / 2
        elif (align == "start") == (lf.direction == "rtl"):
            x = fitted.width - w          # right-aligned: "start" in RTL, "end" in LTR
        else:
            x = 0
        y = i * fitted.line_height + fitted.ascent
        draw.text((x, y), line, font=fitted.font, fill=color, anchor="ls",
                  direction=lf.direction, language=lf.language)
    return block
