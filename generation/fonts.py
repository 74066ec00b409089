"""Noto faces per locale, glyph coverage checks, and Pillow (raqm) font loading.

A locale gets a chain of faces: the script's own Noto face first, then Noto Sans
for what a script face lacks. Several script faces (Hebrew, Thai, ...) carry no
Latin letters and no digits, so a Thai price "฿1,299.50" or a Latin brand name
inside Arabic copy needs the second face. Pillow has no font fallback, so when a
text needs the fallback we merge the needed Noto Sans glyphs into the script face
in memory (fontTools) and shape the whole line with one font: HarfBuzz/FriBiDi
(raqm) then handle bidi order and joining across scripts in one pass.
"""
from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont
from PIL import ImageFont

# Where Debian's fonts-noto-core (.ttf) and fonts-noto-cjk (.ttc) install their faces.
NOTO_DIRS: tuple[Path, ...] = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/opentype/noto"))

CORE_PACKAGE = "fonts-noto-core"
CJK_PACKAGE = "fonts-noto-cjk"

# script -> file stem of its Noto face. "Latin" (NotoSans) also covers Greek, Cyrillic and Vietnamese.
_SCRIPT_STEMS: dict[str, str] = {
    "Latin": "NotoSans", "Arabic": "NotoSansArabic", "Hebrew": "NotoSansHebrew", "Thai": "NotoSansThai",
    "Devanagari": "NotoSansDevanagari", "Bengali": "NotoSansBengali", "Tamil": "NotoSansTamil",
    "Telugu": "NotoSansTelugu", "Gujarati": "NotoSansGujarati", "Gurmukhi": "NotoSansGurmukhi",
    "Kannada": "NotoSansKannada", "Malayalam": "NotoSansMalayalam", "Sinhala": "NotoSansSinhala",
    "Khmer": "NotoSansKhmer", "Lao": "NotoSansLao", "Myanmar": "NotoSansMyanmar",
    "Georgian": "NotoSansGeorgian", "Armenian": "NotoSansArmenian", "Ethiopic": "NotoSansEthiopic",
    "CJK": "NotoSansCJK",
}

# ISO 639 language -> script; languages not listed are written in Latin, Greek or Cyrillic.
_LANGUAGE_SCRIPTS: dict[str, str] = {
    "ar": "Arabic", "fa": "Arabic", "ur": "Arabic", "ps": "Arabic", "ug": "Arabic", "ckb": "Arabic", "sd": "Arabic",
    "he": "Hebrew", "iw": "Hebrew", "yi": "Hebrew", "th": "Thai",
    "hi": "Devanagari", "mr": "Devanagari", "ne": "Devanagari", "sa": "Devanagari",
    "bn": "Bengali", "as": "Bengali", "ta": "Tamil", "te": "Telugu", "gu": "Gujarati", "pa": "Gurmukhi",
    "kn": "Kannada", "ml": "Malayalam", "si": "Sinhala", "km": "Khmer", "lo": "Lao", "my": "Myanmar",
    "ka": "Georgian", "hy": "Armenian", "am": "Ethiopic", "ti": "Ethiopic",
    "ja": "CJK", "zh": "CJK", "ko": "CJK",
}

# ISO 15924 script subtags that override the language's default script (e.g. "pa-Arab", "sr-Latn").
_SCRIPT_SUBTAGS: dict[str, str] = {
    "arab": "Arabic", "hebr": "Hebrew", "latn": "Latin", "cyrl": "Latin", "grek": "Latin",
    "deva": "Devanagari", "hans": "CJK", "hant": "CJK", "jpan": "CJK", "kore": "CJK",
}

_RTL_SCRIPTS = frozenset({"Arabic", "Hebrew"})


class GlyphError(ValueError):
    """A text has characters that none of the locale's faces can draw."""

    def __init__(self, locale: str, missing: tuple[str, ...], fonts: tuple[str, ...]):
        self.locale = locale
        self.missing = missing
        listed = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in missing)
        super().__init__(f"{locale}: no glyph for {listed} in {' + '.join(fonts)}")


class FontMissingError(FileNotFoundError):
    """The Noto face a locale needs is not installed."""


@dataclass(frozen=True)
class FontFace:
    path: Path
    index: int          # face index inside a .ttc collection (0 for a .ttf)
    name: str           # e.g. "NotoSansArabic-Bold" or "Noto Sans CJK SC Bold"


@dataclass(frozen=True)
class LocaleFont:
    """The faces and shaping settings for one locale's text."""
    locale: str
    script: str                     # key of _SCRIPT_STEMS
    direction: str                  # "ltr" or "rtl": the paragraph direction given to raqm
    language: str                   # BCP 47 tag given to HarfBuzz (picks localized forms)
    wrap: str                       # "word" (break at spaces) or "char" (ja/zh: break between characters)
    faces: tuple[FontFace, ...]     # primary first; later faces fill characters the primary lacks


def font_for_locale(locale: str, *, bold: bool = True, font_dirs: tuple[Path, ...] = NOTO_DIRS) -> LocaleFont:
    """The Noto faces for a BCP 47 locale tag (bold weight where the family has one)."""
    # 1. Language and script from the tag ("zh-Hant-TW" -> zh, Hant, TW).
    parts = locale.replace("_", "-").split("-")
    language = parts[0].lower()
    if not language.isalpha():
        raise ValueError(f"locale {locale!r}: not a BCP 47 tag")
    subtags = [p.lower() for p in parts[1:]]
    script = _LANGUAGE_SCRIPTS.get(language, "Latin")
    for tag in subtags:
        if len(tag) == 4 and tag in _SCRIPT_SUBTAGS:
            script = _SCRIPT_SUBTAGS[tag]

    # 2. The faces: CJK collections carry Latin and digits themselves; script faces fall back to Noto Sans.
    if script == "CJK":
        faces: tuple[FontFace, ...] = (_cjk_face(language, subtags, bold, font_dirs),)
    else:
        primary = _find_face(_SCRIPT_STEMS[script], bold, font_dirs)
        faces = (primary,) if script == "Latin" else (primary, _find_face("NotoSans", bold, font_dirs))

    return LocaleFont(
        locale=locale,
        script=script,
        direction="rtl" if script in _RTL_SCRIPTS else "ltr",
        language=locale.replace("_", "-"),
        wrap="char" if language in ("ja", "zh") else "word",   # Korean puts spaces between words
        faces=faces,
    )


def cjk_font(locale: str, *, bold: bool = True, font_dirs: tuple[Path, ...] = NOTO_DIRS) -> LocaleFont:
    """Noto Sans CJK for a non-CJK locale (e.g. the Chinese label "AI生成" in an English ad): SC unless the tag says otherwise."""
    base = font_for_locale(locale, bold=bold, font_dirs=font_dirs)
    if base.script == "CJK":
        return base
    face = _cjk_face("zh", [], bold, font_dirs)
    return LocaleFont(locale=locale, script="CJK", direction="ltr", language="zh-CN", wrap="char", faces=(face,))


def _cjk_face(language: str, subtags: list[str], bold: bool, font_dirs: tuple[Path, ...]) -> FontFace:
    # The collection holds one face per region; pick it by name, not by a position that may change.
    if language == "ja":
        region = "JP"
    elif language == "ko":
        region = "KR"
    elif "hant" in subtags or "tw" in subtags:
        region = "TC"
    elif "hk" in subtags or "mo" in subtags:
        region = "HK"
    else:
        region = "SC"
    face = _find_face("NotoSansCJK", bold, font_dirs)
    weight = " Bold" if face.name.endswith("-Bold") else ""
    wanted = f"Noto Sans CJK {region}{weight}"
    index = _ttc_index(str(face.path), wanted)
    return FontFace(path=face.path, index=index, name=wanted)


def _find_face(stem: str, bold: bool, font_dirs: tuple[Path, ...]) -> FontFace:
    package = CJK_PACKAGE if "CJK" in stem else CORE_PACKAGE
    weights = ("Bold", "Regular") if bold else ("Regular",)
    for weight in weights:
        for folder in font_dirs:
            for ext in (".ttf", ".otf", ".ttc"):
                path = folder / f"{stem}-{weight}{ext}"
                if path.is_file():
                    return FontFace(path=path, index=0, name=path.stem)
    searched = ", ".join(str(d) for d in font_dirs)
    raise FontMissingError(
        f"font {stem}-{weights[-1]} not found in {searched}: install the Debian package {package} "
        f"(apt-get install {package})"
    )


@lru_cache(maxsize=16)
def _ttc_index(path: str, full_name: str) -> int:
    collection = TTCollection(path, lazy=True)
    for i, font in enumerate(collection.fonts):
        if font["name"].getDebugName(4) == full_name:
            return i
    raise FontMissingError(f"{path}: no face named {full_name!r}")


# ---------------------------------------------------------------------------------------------
# Coverage


@lru_cache(maxsize=32)
def _cmap(path: str, index: int) -> frozenset[int]:
    return frozenset(TTFont(path, fontNumber=index, lazy=True).getBestCmap())


def _needs_glyph(ch: str) -> bool:
    # Format controls (RLM, ZWJ, ...) and variation selectors are default-ignorable in HarfBuzz;
    # a space the font lacks is drawn by HarfBuzz as an adjusted U+0020 (fallback spaces).
    category = unicodedata.category(ch)
    if category in ("Cf", "Cc", "Zs", "Zl", "Zp"):
        return False
    return not (0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF)


def missing_characters(text: str, faces: tuple[FontFace, ...]) -> tuple[str, ...]:
    """Characters of `text` (unique, in order) that none of `faces` has a glyph for."""
    cmaps = [_cmap(str(f.path), f.index) for f in faces]
    missing: dict[str, None] = {}
    for ch in text:
        if _needs_glyph(ch) and not any(ord(ch) in cmap for cmap in cmaps):
            missing[ch] = None
    return tuple(missing)


def check_coverage(font_path: Path, face_index: int, text: str, locale: str) -> None:
    """Raise GlyphError naming the locale and characters when one face cannot draw `text`."""
    face = FontFace(path=Path(font_path), index=face_index, name=Path(font_path).name)
    missing = missing_characters(text, (face,))
    if missing:
        raise GlyphError(locale, missing, (face.name,))


def check_locale_coverage(font: LocaleFont, text: str) -> None:
    """Raise GlyphError when no face of the locale's chain can draw some character of `text`."""
    missing = missing_characters(text, font.faces)
    if missing:
        raise GlyphError(font.locale, missing, tuple(f.name for f in font.faces))


def face_for_labels(labels: tuple[str, ...], locale: str) -> FontFace:
    """The first face of the locale's chain, then of the locale's Noto Sans CJK, that has every glyph
    of every label.

    One face (no merged fallback) so that a checker can render the labels exactly as drawn
    (compliance.labels.check_visible_label takes a font path and face index). GlyphError when none has.
    """
    text = "".join(labels)
    text_font = font_for_locale(locale)
    faces = (*text_font.faces, *cjk_font(locale).faces)
    gaps = [missing_characters(text, (face,)) for face in faces]
    for face, gap in zip(faces, gaps):
        if not gap:
            return face
    best = min(range(len(faces)), key=lambda i: len(gaps[i]))
    raise GlyphError(locale, gaps[best], (faces[best].name,))


# ---------------------------------------------------------------------------------------------
# Pillow fonts


def pil_font(font: LocaleFont, size: int, text: str) -> ImageFont.FreeTypeFont:
    """A raqm-shaped Pillow font at `size` px that draws every character of `text` (check coverage first)."""
    primary = font.faces[0]
    borrowed = frozenset(
        ord(ch) for ch in text if _needs_glyph(ch) and ord(ch) not in _cmap(str(primary.path), primary.index)
    )
    if not borrowed:
        return ImageFont.truetype(str(primary.path), size, index=primary.index, layout_engine=ImageFont.Layout.RAQM)
    # Borrow the whole common block (Latin, punctuation, currency) with the text's own needs, so that
    # most texts of a locale share one merged font instead of merging anew (0.2-0.6 s each).
    data = _merged_font(primary, font.faces[1:], borrowed | _common_block(primary, font.faces[1:]))
    return ImageFont.truetype(io.BytesIO(data), size, layout_engine=ImageFont.Layout.RAQM)


# Latin, Latin-1, Latin Extended-A/B, general punctuation, currency symbols.
_COMMON = (range(0x20, 0x250), range(0x2000, 0x2070), range(0x20A0, 0x20C1))


@lru_cache(maxsize=32)
def _common_block(primary: FontFace, fallbacks: tuple[FontFace, ...]) -> frozenset[int]:
    have = _cmap(str(primary.path), primary.index)
    spare = set().union(*(_cmap(str(f.path), f.index) for f in fallbacks))
    return frozenset(c for block in _COMMON for c in block if c not in have and c in spare)


@lru_cache(maxsize=32)
def _merged_font(primary: FontFace, fallbacks: tuple[FontFace, ...], codepoints: frozenset[int]) -> bytes:
    """The primary face plus the fallback glyphs for `codepoints`, as one font file in memory."""
    from fontTools import subset   # only where a locale needs fallback glyphs (0.4 s to import)
    from fontTools.merge import Merger

    fonts = [TTFont(str(primary.path), fontNumber=primary.index)]
    remaining = set(codepoints)
    for face in fallbacks:
        have = remaining & _cmap(str(face.path), face.index)
        if not have:
            continue
        options = subset.Options()
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        options.hinting = False   # the primary's hinting programs (fpgm/prep) do not fit foreign glyphs
        extra = TTFont(str(face.path), fontNumber=face.index)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(have))
        subsetter.subset(extra)
        fonts.append(extra)
        remaining -= have
    buffers = []
    for f in fonts:
        buf = io.BytesIO()
        f.save(buf)
        buf.seek(0)
        buffers.append(buf)
    merged = Merger().merge(buffers)
    out = io.BytesIO()
    merged.save(out)
    return out.getvalue()
