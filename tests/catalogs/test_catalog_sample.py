"""The demo catalog loads and holds what the demo needs."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

import catalogs
from catalogs import ASPECT_RATIOS, load_catalog

EXPECTED_LOCALES = {
    "en-US": ("USD", "US-CA;US-NY"), "de-DE": ("EUR", "EU"), "es-MX": ("MXN", "MX"),
    "ja-JP": ("JPY", "JP"), "zh-CN": ("CNY", "CN"), "ar-SA": ("SAR", "SA"),
}
PHOTO_SOURCES = {"coffee.jpg": skimage.data.coffee, "chelsea.jpg": skimage.data.chelsea,
                 "rocket.jpg": skimage.data.rocket}


def test_public_api_is_named_in_all() -> None:
    assert set(catalogs.__all__) == {"load_catalog", "CatalogError", "Catalog", "Product", "Locale",
                                     "Copy", "BrandKit", "ASPECT_RATIOS"}
    for name in catalogs.__all__:
        assert getattr(catalogs, name) is not None


def test_sample_products(sample_dir: Path, sample_profiles: frozenset[str]) -> None:
    catalog = load_catalog(sample_dir, known_profiles=sample_profiles)
    assert catalog.root == sample_dir.resolve()
    assert len(catalog.products) >= 3
    assert [p.row for p in catalog.products] == list(range(1, len(catalog.products) + 1))
    for product in catalog.products:
        assert product.currency == "USD"
        assert product.price > 0 and product.price == product.price.quantize(Decimal("0.01"))
        assert product.duration_s == 6.0
        assert product.photo.is_absolute() and product.photo.is_relative_to(catalog.root / "photos")
        assert product.title and product.description and product.category


def test_sample_locales(sample_dir: Path, sample_profiles: frozenset[str]) -> None:
    catalog = load_catalog(sample_dir, known_profiles=sample_profiles)
    got = {loc.tag: (loc.currency, loc.rule_profile) for loc in catalog.locales}
    assert got == EXPECTED_LOCALES
    for loc in catalog.locales:
        assert loc.aspect_ratios == ASPECT_RATIOS
        assert loc.tag == f"{loc.language}-{loc.region}"


def test_sample_copy_covers_every_product_and_locale(sample_dir: Path) -> None:
    catalog = load_catalog(sample_dir)
    assert len(catalog.copy) == len(catalog.products) * len(catalog.locales)
    locale_currency = {loc.tag: loc.currency for loc in catalog.locales}
    for product in catalog.products:
        for loc in catalog.locales:
            copy = catalog.copy_for(product.sku, loc.tag)
            assert len(copy.captions) == 2 and all(copy.captions)
            assert copy.headline and copy.cta
            if locale_currency[loc.tag] == product.currency:
                assert copy.price is None
            else:
                assert copy.price is not None and copy.price > 0


def _is_cjk(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA"))


@pytest.mark.parametrize("tag", sorted(EXPECTED_LOCALES))
def test_sample_headlines_fit(sample_dir: Path, tag: str) -> None:
    limit = 14 if tag in ("ja-JP", "zh-CN") else 32
    for copy in load_catalog(sample_dir).copy:
        if copy.locale == tag:
            assert len(copy.headline) <= limit, copy.headline


def test_sample_copy_is_in_each_locale_script(sample_dir: Path) -> None:
    catalog = load_catalog(sample_dir)
    for copy in catalog.copy:
        text = " ".join((copy.headline, copy.cta, *copy.captions))
        latin = re.findall(r"[A-Za-z]", text)
        if copy.locale == "ar-SA":
            arabic = [ch for ch in text if "\u0600" <= ch <= "\u06ff"]
            assert len(arabic) > 0.9 * len(text.replace(" ", "")) and not latin, text
        elif copy.locale == "ja-JP":
            assert any("\u3040" <= ch <= "\u30ff" for ch in text), text  # kana: Japanese, not Chinese
        elif copy.locale == "zh-CN":
            assert all(not ("\u3040" <= ch <= "\u30ff") for ch in text), text
            assert sum(_is_cjk(ch) for ch in text) > 0.8 * len(text.replace(" ", "")), text
        elif copy.locale == "de-DE":
            assert copy.cta == "Jetzt kaufen" or "Bausatz" in copy.cta


def test_sample_photos_are_the_scikit_image_photographs(sample_dir: Path) -> None:
    catalog = load_catalog(sample_dir)
    assert {p.photo.name for p in catalog.products} == set(PHOTO_SOURCES)
    for product in catalog.products:
        with Image.open(product.photo) as image:
            assert image.format == "JPEG"
            ours = np.asarray(image.convert("RGB"), dtype=np.float32)
        source = PHOTO_SOURCES[product.photo.name]().astype(np.float32)
        assert ours.shape == source.shape
        assert np.abs(ours - source).mean() < 3.0  # JPEG q92 of the same pixels


def test_sources_md_names_every_photo_with_its_hash_and_licence(sample_dir: Path) -> None:
    sources = (sample_dir / "SOURCES.md").read_text(encoding="utf-8")
    for name in PHOTO_SOURCES:
        digest = hashlib.sha256((sample_dir / "photos" / name).read_bytes()).hexdigest()
        assert f"`photos/{name}`: `{digest}`" in sources
    assert sources.count("CC0") >= 2 and "public domain" in sources


def test_sample_brand(sample_dir: Path) -> None:
    brand = load_catalog(sample_dir).brand
    assert brand.font_family == "Noto Sans"
    for color in (brand.primary_color, brand.secondary_color, brand.text_color):
        assert re.fullmatch(r"#[0-9A-F]{6}", color)
    assert len({brand.primary_color, brand.secondary_color, brand.text_color}) == 3
    assert brand.logo is None
    assert (brand.author.kind, brand.author.human) == ("team", True)


def test_sample_copy_names_who_wrote_it_people_and_machines(sample_dir: Path) -> None:
    authors = {c.locale: c.author for c in load_catalog(sample_dir).copy}
    assert authors["en-US"].human and authors["de-DE"].kind == "team"
    assert (authors["ja-JP"].kind, authors["ja-JP"].name) == ("mt", "DeepL")
    assert not authors["ar-SA"].human and authors["ar-SA"].actor_kind == "system"


def test_sample_photos_say_what_they_are_who_owns_them_and_under_which_licence(
        sample_dir: Path, sample_profiles: frozenset[str]) -> None:
    catalog = load_catalog(sample_dir, known_profiles=sample_profiles)
    capture = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
    assert {p.photo_source for p in catalog.products} == {capture}      # SOURCES.md: photographs
    by_photo = {p.photo.name: (p.photo_owner, p.photo_licence) for p in catalog.products}
    assert by_photo["coffee.jpg"][1] == by_photo["chelsea.jpg"][1] == "CC0 1.0"
    assert by_photo["rocket.jpg"] == ("SpaceX", "public domain (released by SpaceX)")
