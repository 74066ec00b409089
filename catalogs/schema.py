"""Typed records for the four catalogs (products, locales, copy, brand kit).

The column documentation lives in docs/catalogs.md; the loaders in
catalogs/load.py turn files into these frozen records after validation.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from foundation.primitives import Author

ASPECT_RATIOS = ("9:16", "1:1", "16:9")


@dataclass(frozen=True)
class Product:
    sku: str
    title: str
    description: str
    photo: Path          # absolute, resolved, inside the catalog folder
    price: Decimal
    currency: str        # ISO 4217, upper case
    category: str
    duration_s: float = 6.0
    row: int = 0         # 1-based data row in the source file, for error messages
    # What the catalog says about the photo (docs/catalogs.md); the photo's own C2PA manifest or XMP
    # wins over photo_source. None: the catalog says nothing; "unknown": treat it as unknown provenance,
    # also when its own manifest fails validation.
    photo_source: str | None = None     # an IPTC digital source type IRI, or "unknown"
    photo_owner: str = ""
    photo_licence: str = ""


@dataclass(frozen=True)
class Locale:
    tag: str             # BCP 47, canonical case (e.g. "zh-CN")
    language: str        # ISO 639-1 (e.g. "zh")
    region: str          # market, ISO 3166-1 alpha-2 (e.g. "CN")
    currency: str        # ISO 4217
    rule_profile: str    # region rule profile id(s), e.g. "EU", "CN", "US-CA;US-NY" (all apply)
    aspect_ratios: tuple[str, ...]
    row: int = 0

    @property
    def rule_profiles(self) -> tuple[str, ...]:
        return tuple(self.rule_profile.split(";"))


@dataclass(frozen=True)
class Copy:
    sku: str
    locale: str          # a Locale.tag
    headline: str
    cta: str
    captions: tuple[str, ...]
    price: Decimal | None = None   # price in the locale's currency when it differs from the product's
    row: int = 0
    # Who or what wrote this row's text (column copy_author); a missing column or value is unknown, never human.
    author: Author = Author("unknown")


@dataclass(frozen=True)
class BrandKit:
    name: str
    primary_color: str     # "#RRGGBB"
    secondary_color: str
    text_color: str
    font_family: str       # "Noto Sans" family; the script-specific face is chosen per locale
    logo: Path | None = None
    # What brand.json says about the logo, as the photo columns say about a photo (docs/catalogs.md).
    logo_source: str | None = None     # an IPTC digital source type IRI, or "unknown"
    logo_owner: str = ""
    logo_licence: str = ""
    author: Author = Author("unknown")    # who chose the brand kit (key "author", the copy_author syntax)
    # A music bed for every variant (WAV, MP3 or M4A in the catalog folder), with what brand.json says
    # of it, as of the logo; None: the variants are silent.
    music: Path | None = None
    music_source: str | None = None
    music_owner: str = ""
    music_licence: str = ""


@dataclass(frozen=True)
class Catalog:
    root: Path
    products: tuple[Product, ...]
    locales: tuple[Locale, ...]
    copy: tuple[Copy, ...]
    brand: BrandKit

    def copy_for(self, sku: str, locale: str) -> Copy:
        for c in self.copy:
            if c.sku == sku and c.locale == locale:
                return c
        raise KeyError(f"no copy for sku={sku!r} locale={locale!r}")
