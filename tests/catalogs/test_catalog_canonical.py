"""Values are canonicalised on load: locale tag case, Unicode NFC, currency case, price precision."""
from __future__ import annotations

import json
import unicodedata
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from catalogs import ASPECT_RATIOS

if TYPE_CHECKING:
    from conftest import EditableCatalog


@pytest.mark.parametrize(("written", "canonical"), [
    ("zh-cn", "zh-CN"), ("ZH-CN", "zh-CN"), ("Zh-Cn", "zh-CN"), ("zh-hans-cn", "zh-Hans-CN"),
])
def test_locale_tag_case_is_canonicalised(editable: EditableCatalog, written: str, canonical: str) -> None:
    editable.set("locales", 5, "tag", written)
    editable.set("locales", 5, "language", "ZH")
    editable.set("locales", 5, "region", "cn")
    rows = editable.rows("copy")
    for row in rows:
        if row["locale"] == "zh-CN":
            row["locale"] = written.swapcase()  # copy may spell it differently again
    editable.write("copy", rows)
    catalog = editable.load()
    locale = catalog.locales[4]
    assert (locale.tag, locale.language, locale.region) == (canonical, "zh", "CN")
    assert catalog.copy_for("ESP-BLEND-1KG", canonical).headline == "唤醒清晨的浓缩咖啡"


def test_a_new_locale_with_a_script_subtag(editable: EditableCatalog) -> None:
    locales = editable.rows("locales")
    locales.append({"tag": "zh-hant-tw", "language": "zh", "region": "TW", "currency": "twd",
                    "rule_profile": "TW", "aspect_ratios": "9:16"})
    editable.write("locales", locales)
    copy = editable.rows("copy")
    for sku, price in (("ESP-BLEND-1KG", "799"), ("CAT-BED-PLUSH", "1590"), ("RKT-KIT-LP1", "1290")):
        copy.append({"sku": sku, "locale": "zh-Hant-TW", "headline": "喚醒早晨", "cta": "立即購買",
                     "captions": "一 | 二", "price": price})
    editable.write("copy", copy)
    catalog = editable.load()
    taiwan = catalog.locales[-1]
    assert (taiwan.tag, taiwan.currency, taiwan.aspect_ratios) == ("zh-Hant-TW", "TWD", ("9:16",))
    assert catalog.copy_for("CAT-BED-PLUSH", "zh-Hant-TW").price == Decimal("1590.00")


def test_text_is_nfc_normalised_and_stripped(editable: EditableCatalog) -> None:
    decomposed = "  Cafe\u0301 cre\u0300me  "
    assert unicodedata.normalize("NFC", decomposed) != decomposed
    editable.set("copy", 2, "headline", decomposed)
    editable.set("copy", 2, "captions", " Erste Zeile|zweite Zeile  |  dritte ")
    editable.set("products", 1, "title", "\tHouse Espresso Blend\u00a0")
    catalog = editable.load()
    copy = catalog.copy_for("ESP-BLEND-1KG", "de-DE")
    assert copy.headline == "Café crème" and len(copy.headline) == 10
    assert copy.captions == ("Erste Zeile", "zweite Zeile", "dritte")
    assert catalog.products[0].title == "House Espresso Blend"


def test_aspect_ratios_empty_means_all_and_subsets_keep_their_order(editable: EditableCatalog) -> None:
    editable.set("locales", 1, "aspect_ratios", "")
    editable.set("locales", 2, "aspect_ratios", " 16:9 ; 1:1 ")
    catalog = editable.load()
    assert catalog.locales[0].aspect_ratios == ASPECT_RATIOS
    assert catalog.locales[1].aspect_ratios == ("16:9", "1:1")


def test_currency_case_and_price_precision(editable: EditableCatalog) -> None:
    editable.set("locales", 3, "currency", "mxn")
    editable.set("copy", 3, "price", "449")
    editable.set("products", 2, "currency", "usd")
    editable.set("products", 2, "price", "50")
    catalog = editable.load()
    assert catalog.locales[2].currency == "MXN"
    assert str(catalog.copy_for("ESP-BLEND-1KG", "es-MX").price) == "449.00"
    assert (catalog.products[1].currency, str(catalog.products[1].price)) == ("USD", "50.00")
    assert str(catalog.copy_for("ESP-BLEND-1KG", "ja-JP").price) == "3480"


def test_duration_defaults_to_six_seconds(editable: EditableCatalog) -> None:
    editable.set("products", 1, "duration_s", "")
    editable.set("products", 2, "duration_s", "12.5")
    products = editable.load().products
    assert [p.duration_s for p in products] == [6.0, 12.5, 6.0]
    rows = editable.rows("products")
    for row in rows:
        del row["duration_s"]
    editable.write("products", rows)
    assert {p.duration_s for p in editable.load().products} == {6.0}


def test_brand_colors_upper_case_and_logo_inside(editable: EditableCatalog) -> None:
    Image.new("RGBA", (64, 32), (15, 76, 92, 255)).save(editable.root / "logo.png")
    data = json.loads((editable.root / "brand.json").read_text(encoding="utf-8"))
    data.update(primary_color="#0f4c5c", logo="logo.png")
    (editable.root / "brand.json").write_text(json.dumps(data), encoding="utf-8")
    brand = editable.load().brand
    assert brand.primary_color == "#0F4C5C"
    assert brand.logo == (editable.root / "logo.png").resolve()
