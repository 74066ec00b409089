"""Shaping and fitting through Pillow + raqm: Arabic joined, bidi order right, CJK wrapped by character."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage.measure import label as connected_components

from generation.fonts import font_for_locale, pil_font
from generation.text import TextFitError, break_units, draw_block, fit_text, layout_text, shaped_width


def ink(img: Image.Image) -> np.ndarray:
    return np.asarray(img.getchannel("A") if img.mode == "RGBA" else img) > 128


def components(mask: np.ndarray) -> int:
    return int(connected_components(mask, connectivity=2).max())


def test_raqm_is_the_layout_engine():
    assert pil_font(font_for_locale("ar-SA"), 40, "سلام").layout_engine == ImageFont.Layout.RAQM


def test_arabic_letters_are_joined():
    # س ل ا م: seen, lam and alef join into one shape, meem after alef stands alone -> 2 pieces when shaped,
    # 4 isolated letters when laid out without shaping (Pillow's basic engine).
    lf = font_for_locale("ar-SA")
    word = "سلام"
    fitted = fit_text(word, lf, 400, 200, max_size=80, min_size=80, what="headline")
    shaped = draw_block(fitted, lf, color=(255, 255, 255, 255), align="start")
    basic_font = ImageFont.truetype(str(lf.faces[0].path), 80, layout_engine=ImageFont.Layout.BASIC)
    basic = Image.new("L", (500, 200))
    ImageDraw.Draw(basic).text((10, 150), word, font=basic_font, fill=255, anchor="ls")
    assert components(ink(shaped)) == 2
    assert components(ink(basic)) == 4
    assert shaped_width(fitted.font, word, lf) < basic_font.getlength(word)   # joined forms are narrower


def test_rtl_puts_the_number_left_of_the_arabic_word_and_keeps_digits_in_order():
    lf = font_for_locale("ar-SA")
    line, number = "السعر 123", "123"
    fitted = layout_text(line, lf, 60, 1000)
    img = ink(draw_block(fitted, lf, color=(255, 255, 255, 255), align="start"))
    cols = np.flatnonzero(img.any(axis=0))
    # The number alone, rendered LTR, must match the left end of the RTL line (same font, same size).
    alone = ink(draw_block(layout_text(number, lf, 60, 1000), lf, color=(255, 255, 255, 255), align="start"))
    acols = np.flatnonzero(alone.any(axis=0))
    left_part = img[:, cols[0]:cols[0] + (acols[-1] - acols[0] + 1)]
    number_ink = alone[:, acols[0]:acols[-1] + 1]
    rows = min(left_part.shape[0], number_ink.shape[0])
    overlap = (left_part[:rows] & number_ink[:rows]).sum() / number_ink[:rows].sum()
    reversed_overlap = (left_part[:rows] & number_ink[:rows, ::-1]).sum() / number_ink[:rows].sum()
    assert overlap > 0.9 > reversed_overlap


def test_hebrew_price_draws_digits_from_the_fallback_face():
    lf = font_for_locale("he-IL")
    text = "מחיר 1,299.50 ₪"
    fitted = layout_text(text, lf, 48, 2000)
    img = ink(draw_block(fitted, lf, color=(0, 0, 0, 255), align="start"))
    # Noto Sans Hebrew alone draws no digits; with the merged fallback, every character has ink.
    assert components(img) >= len(text.replace(" ", "")) - 2
    notdef = ImageFont.truetype(str(lf.faces[0].path), 48, layout_engine=ImageFont.Layout.RAQM)
    assert notdef.getlength("1") != fitted.font.getlength("1")


def test_cjk_wraps_by_character_without_breaking_kinsoku_rules():
    units = break_units("香り高い深煎りコーヒー、毎朝の一杯に「限定」￥1,299です。", "char")
    assert "ー、" not in units and not any(u[0] in "、。」ー" for u in units)
    assert "￥1,299" in units and any(u.startswith("「") and len(u) > 1 for u in units)
    lf = font_for_locale("ja-JP")
    fitted = fit_text("香り高い深煎りコーヒー、毎朝の一杯に", lf, 300, 400, max_size=40, min_size=10, what="headline")
    assert len(fitted.lines) >= 2 and "".join(fitted.lines) == "香り高い深煎りコーヒー、毎朝の一杯に"
    assert any("コーヒー" in line for line in fitted.lines)          # katakana words stay whole
    assert all(not line.startswith(("、", "ー")) for line in fitted.lines)


def test_words_are_never_split():
    lf = font_for_locale("de-DE")
    text = "Kräftiger Röstkaffee für jeden Morgen"
    fitted = fit_text(text, lf, 260, 300, max_size=60, min_size=10, what="headline")
    assert " ".join(fitted.lines) == text


@pytest.mark.parametrize("locale, text", [
    ("de-DE", "Kräftiger Röstkaffee für jeden Morgen, frisch geröstet und schnell geliefert"),
    ("ja-JP", "香り高い深煎りコーヒー、毎朝の一杯に。厳選された豆を使用しています。"),
    ("ar-SA", "قهوة محمصة داكنة بنكهة غنية لكل صباح"),
])
def test_fit_shrinks_until_the_block_fits(locale, text):
    lf = font_for_locale(locale)
    box_w, box_h = 320, 120
    fitted = fit_text(text, lf, box_w, box_h, max_size=80, min_size=8, what="headline")
    assert fitted.size < 80
    assert fitted.width <= box_w and fitted.height <= box_h
    block = draw_block(fitted, lf, color=(255, 255, 255, 255), align="center")
    assert block.size == (fitted.width, fitted.height)
    # One size up no longer fits: the fit is the largest one.
    bigger = layout_text(text, lf, fitted.size + 1, box_w)
    assert bigger is None or bigger.height > box_h


def test_text_that_cannot_fit_names_locale_and_text():
    with pytest.raises(TextFitError, match="de-DE: headline 'Donaudampfschiffahrt' does not fit"):
        fit_text("Donaudampfschiffahrt", font_for_locale("de-DE"), 40, 20, max_size=30, min_size=12, what="headline")


def test_cjk_headline_leaves_no_one_character_last_line():
    lf = font_for_locale("zh-CN")
    fitted = fit_text("浓郁深烘咖啡，开启美好早晨", lf, 426, 118, max_size=61, min_size=20, what="headline")
    assert fitted.lines == ("浓郁深烘咖啡，", "开启美好早晨")       # rebalanced: the break falls after the comma
    assert fitted.widths[-1] * 3 >= fitted.width


THAI = "กาแฟคั่วเข้มหอมกรุ่นพร้อมกลิ่นโกโก้และคาราเมลสำหรับทุกเช้าของคุณ"   # no spaces, as Thai is written


def _icu_boundaries(text: str, locale: str) -> set[int]:
    import icu
    it = icu.BreakIterator.createLineInstance(icu.Locale(locale.replace("-", "_")))
    it.setText(text)
    return set(it)


def test_thai_without_spaces_wraps_only_at_icu_word_boundaries():
    lf = font_for_locale("th-TH")
    fitted = fit_text(THAI, lf, 260, 80, max_size=16, min_size=8, what="captions")
    assert len(fitted.lines) >= 2 and "".join(fitted.lines) == THAI
    cuts = [sum(len(line) for line in fitted.lines[:k]) for k in range(1, len(fitted.lines))]
    assert set(cuts) <= _icu_boundaries(THAI, "th-TH"), (fitted.lines, cuts)


def test_text_that_cannot_fit_names_the_size_it_needs():
    lf = font_for_locale("de-DE")
    with pytest.raises(TextFitError) as e:
        fit_text("Donaudampfschifffahrtsgesellschaftskapitän", lf, 60, 20, max_size=20, min_size=10, what="cta")
    err = e.value
    assert (err.locale, err.field, err.box, err.font_px) == ("de-DE", "cta", (60, 20), 10)
    assert err.need[0] > 60 and f"needs {err.need[0]}x{err.need[1]} px" in str(err)
