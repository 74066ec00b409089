"""Noto faces per locale and glyph coverage (fontTools cmap), before anything is drawn."""
from __future__ import annotations


import pytest
from fontTools.ttLib import TTFont

from generation.fonts import (
    FontMissingError,
    GlyphError,
    check_coverage,
    check_locale_coverage,
    font_for_locale,
    missing_characters,
)


@pytest.mark.parametrize("locale, script, direction, first_face", [
    ("de-DE", "Latin", "ltr", "NotoSans-Bold"),
    ("ru-RU", "Latin", "ltr", "NotoSans-Bold"),
    ("el-GR", "Latin", "ltr", "NotoSans-Bold"),
    ("ar-SA", "Arabic", "rtl", "NotoSansArabic-Bold"),
    ("he-IL", "Hebrew", "rtl", "NotoSansHebrew-Bold"),
    ("th-TH", "Thai", "ltr", "NotoSansThai-Bold"),
    ("hi-IN", "Devanagari", "ltr", "NotoSansDevanagari-Bold"),
    ("ja-JP", "CJK", "ltr", "Noto Sans CJK JP Bold"),
    ("ko-KR", "CJK", "ltr", "Noto Sans CJK KR Bold"),
    ("zh-CN", "CJK", "ltr", "Noto Sans CJK SC Bold"),
    ("zh-TW", "CJK", "ltr", "Noto Sans CJK TC Bold"),
    ("zh-Hant-HK", "CJK", "ltr", "Noto Sans CJK TC Bold"),
    ("zh-HK", "CJK", "ltr", "Noto Sans CJK HK Bold"),
])
def test_locale_picks_its_noto_face(locale, script, direction, first_face):
    lf = font_for_locale(locale)
    assert (lf.script, lf.direction, lf.faces[0].name) == (script, direction, first_face)
    face = lf.faces[0]
    # The face really is the one named: full name inside a .ttc collection, PostScript name for a .ttf.
    names = TTFont(str(face.path), fontNumber=face.index, lazy=True)["name"]
    assert names.getDebugName(4 if face.path.suffix == ".ttc" else 6) == first_face


def test_wrapping_mode_follows_the_language():
    assert font_for_locale("ja-JP").wrap == "char"
    assert font_for_locale("zh-CN").wrap == "char"
    assert font_for_locale("ko-KR").wrap == "word"     # Korean spaces its words
    assert font_for_locale("de-DE").wrap == "word"


def test_script_faces_fall_back_to_noto_sans_for_digits_and_latin():
    he = font_for_locale("he-IL")
    price = "\u200f1,299.50\xa0\u200f₪"
    # Noto Sans Hebrew has no digits: the face alone fails, the locale's chain covers the price.
    with pytest.raises(GlyphError):
        check_coverage(he.faces[0].path, he.faces[0].index, price, "he-IL")
    check_locale_coverage(he, price)
    assert [f.name for f in he.faces] == ["NotoSansHebrew-Bold", "NotoSans-Bold"]


def test_thai_with_a_latin_font_names_locale_and_characters():
    lf = font_for_locale("de-DE")
    with pytest.raises(GlyphError) as err:
        check_locale_coverage(lf, "Neu: สวัสดี!")
    message = str(err.value)
    assert message.startswith("de-DE: ")
    assert "'ส' (U+0E2A)" in message and "'ว' (U+0E27)" in message
    assert err.value.locale == "de-DE" and err.value.missing[0] == "ส"
    assert isinstance(err.value, ValueError)


def test_cjk_forced_onto_a_latin_face_fails():
    latin = font_for_locale("en-US").faces[0]
    with pytest.raises(GlyphError, match=r"en-US: .*'生' \(U\+751F\).*'成' \(U\+6210\)"):
        check_coverage(latin.path, latin.index, "AI生成", "en-US")


def test_emoji_and_private_use_are_missing_everywhere():
    for locale in ("ja-JP", "ar-SA", "de-DE"):
        assert missing_characters("Sale 🎉\ue000", font_for_locale(locale).faces) == ("🎉", "\ue000")


def test_invisible_controls_need_no_glyph():
    # RLM/ALM/ZWJ marks and no-break spaces are handled by HarfBuzz without a glyph of their own.
    assert missing_characters("\u200f\u061c\u200d\u202f\u00a0abc", font_for_locale("ja-JP").faces) == ()


def test_missing_font_names_the_debian_package(tmp_path):
    with pytest.raises(FontMissingError, match="apt-get install fonts-noto-core"):
        font_for_locale("th-TH", font_dirs=(tmp_path,))
    with pytest.raises(FontMissingError, match="fonts-noto-cjk"):
        font_for_locale("ja-JP", font_dirs=(tmp_path,))


def test_regular_weight_on_request():
    assert font_for_locale("de-DE", bold=False).faces[0].name == "NotoSans-Regular"
    assert font_for_locale("ja-JP", bold=False).faces[0].name == "Noto Sans CJK JP"
