"""Load and validate a catalog folder into the frozen records of catalogs.schema.

A catalog folder holds products, locales and copy tables (each as exactly one of
.csv, .parquet or .jsonl) plus brand.json. Every cell is read as text and parsed
explicitly here, so the three formats give identical records. All problems are
collected and raised together as one CatalogError, before anything renders.

Row numbers in messages are 1-based data rows: row 1 is the first record after
the header (CSV line 2 when the file has no blank lines or multi-line cells),
the first JSON object of a .jsonl file, the first row of a Parquet file.
"""
from __future__ import annotations

import csv
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Generic, Iterator, TypeVar

from babel import Locale as BabelLocale
from babel import UnknownLocaleError
from babel.numbers import get_currency_precision, is_currency
from PIL import Image, UnidentifiedImageError

from foundation.frames import ClipError, audio_duration_s
from foundation.primitives import Author, SourceType
from catalogs.schema import ASPECT_RATIOS, BrandKit, Catalog, Copy, Locale, Product

FORMATS = ("csv", "parquet", "jsonl")
MAX_PROBLEMS = 50                   # enough to fix a batch; more is noise from one root cause
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_BYTES = 50_000_000
IMAGE_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
MAX_AUDIO_BYTES = 100_000_000
AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a")    # what C2PA can carry as an ingredient of the variant's manifest
DEFAULT_DURATION_S = 6.0
DURATION_RANGE_S = (2.0, 60.0)

# SKUs become folder and file names downstream, so keep them to a safe alphabet.
SKU_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# language[-Script]-REGION; the region is required because a locale is a market.
TAG_RE = re.compile(r"([A-Za-z]{2,3})(?:-([A-Za-z]{4}))?-([A-Za-z]{2})")
PLAIN_DECIMAL_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # ASCII only: Decimal() also takes other digits
COLOR_RE = re.compile(r"#[0-9A-Fa-f]{6}")

PRODUCT_COLUMNS = ("sku", "title", "description", "photo", "price", "currency", "category")
PRODUCT_OPTIONAL = ("duration_s", "photo_source", "photo_owner", "photo_licence")
LOCALE_COLUMNS = ("tag", "language", "region", "currency", "rule_profile", "aspect_ratios")
COPY_COLUMNS = ("sku", "locale", "headline", "cta", "captions")
COPY_OPTIONAL = ("price", "copy_author")
BRAND_KEYS = ("name", "primary_color", "secondary_color", "text_color", "font_family")
BRAND_OPTIONAL = ("logo", "logo_source", "logo_owner", "logo_licence", "author",
                  "music", "music_source", "music_owner", "music_licence")


T = TypeVar("T")


class CatalogError(ValueError):
    """A catalog failed validation; `problems` lists every message, each naming file, row and column."""

    def __init__(self, root: Path, problems: list[str]) -> None:
        self.root = root
        self.problems = tuple(problems)
        shown = problems[:MAX_PROBLEMS]
        lines = [f"catalog {root} is invalid ({len(problems)} problem{'s' if len(problems) != 1 else ''}):"]
        lines += [f"  - {p}" for p in shown]
        if len(problems) > len(shown):
            lines.append(f"  ... and {len(problems) - len(shown)} more")
        super().__init__("\n".join(lines))


@dataclass
class _Problems:
    items: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


@dataclass
class _Keyed(Generic[T]):
    """A parsed table by key: the record (None when its row has problems), its row, its valid currency."""
    records: dict[str, T | None] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    currency: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Table:
    name: str                           # file name, e.g. "products.csv"
    rows: tuple[dict[str, str], ...]    # every cell as stripped text, missing -> ""


def _where(table: str, row: int, column: str) -> str:
    return f"{table} row {row}, column {column!r}"


def load_catalog(root: Path, *, known_profiles: frozenset[str] | None = None) -> Catalog:
    """Read and validate the catalog folder `root`; raise CatalogError listing every problem."""
    root = Path(root)
    if not root.is_dir():
        raise CatalogError(root, [f"{root}: not a directory"])
    real_root = root.resolve()
    problems = _Problems()

    # 1. Read the tables as text.
    products_t = _read_table(real_root, "products", PRODUCT_COLUMNS, PRODUCT_OPTIONAL, problems)
    locales_t = _read_table(real_root, "locales", LOCALE_COLUMNS, (), problems)
    copy_t = _read_table(real_root, "copy", COPY_COLUMNS, COPY_OPTIONAL, problems)

    # 2. Parse each table on its own.
    products = _parse_products(real_root, products_t, problems) if products_t else _Keyed[Product]()
    locales = _parse_locales(locales_t, known_profiles, problems) if locales_t else _Keyed[Locale]()

    # 3. Copy rows refer to products and locales: check them against both.
    copies: dict[tuple[str, str], Copy | None] = {}
    if copy_t and products_t and locales_t:
        copies = _parse_copy(copy_t, products, locales, problems)
        for sku, p_row in products.rows.items():
            for tag, l_row in locales.rows.items():
                if (sku, tag) not in copies:
                    problems.add(copy_t.name, f"no copy row for sku {sku!r} (products row {p_row}) "
                                              f"and locale {tag!r} (locales row {l_row})")

    brand = _read_brand(real_root, problems)
    if problems.items:
        raise CatalogError(root, problems.items)
    assert brand is not None  # no problems means every part parsed
    return Catalog(
        root=real_root,
        products=tuple(p for p in products.records.values() if p is not None),
        locales=tuple(loc for loc in locales.records.values() if loc is not None),
        copy=tuple(c for c in copies.values() if c is not None),
        brand=brand,
    )


# -- reading -----------------------------------------------------------------------------------

def _read_table(root: Path, stem: str, required: tuple[str, ...], optional: tuple[str, ...],
                problems: _Problems) -> _Table | None:
    """Find exactly one `stem.{csv,parquet,jsonl}`, read every cell as text, check its columns."""
    found = [root / f"{stem}.{ext}" for ext in FORMATS if (root / f"{stem}.{ext}").is_file()]
    if not found:
        problems.add(f"{stem}.*", f"missing: expected one of {', '.join(f'{stem}.{e}' for e in FORMATS)}")
        return None
    if len(found) > 1:
        problems.add(f"{stem}.*", f"found {' and '.join(p.name for p in found)}; keep exactly one format")
        return None
    path = found[0]
    try:
        header, records = _read_rows(path)
    except (ValueError, OSError, csv.Error) as exc:  # pandas' and pyarrow's errors subclass these
        problems.add(path.name, f"cannot be read: {_first_line(exc)}")
        return None

    if not header:
        problems.add(path.name, "has no data rows")
        return None
    columns = [str(c).strip() for c in header]
    missing = [c for c in required if c not in columns]
    unknown = [c for c in columns if c not in required and c not in optional]
    for column in missing:
        problems.add(path.name, f"missing column {column!r}")
    for column in unknown:
        problems.add(path.name, f"unknown column {column!r} (expected {', '.join(required + optional)})")
    if missing or unknown:  # a repeated CSV header shows up here as 'name.1'
        return None
    rows = tuple(dict(zip(columns, map(_cell_text, record))) for record in records)
    if not rows:
        problems.add(path.name, "has no data rows")
        return None
    return _Table(path.name, rows)


def _read_rows(path: Path) -> tuple[list[str], Iterator[list[object]]]:
    """A table's header and its data rows, each a list of cells in the header's order.
    CSV is read with the csv module (a CSV catalog does not import pandas); Parquet and JSON Lines
    through pandas."""
    if path.suffix == ".csv":
        return _read_csv(path)
    frame = _read_frame(path)
    return [str(c) for c in frame.columns], (list(r.values()) for r in frame.to_dict("records"))


def _read_csv(path: Path) -> tuple[list[str], Iterator[list[object]]]:
    """Every cell as text. Blank lines are skipped, a short row's missing cells are empty, a repeated
    header name reads as 'name.1' (so it is reported as an unknown column), an empty one as
    'Unnamed: N'; a row with more cells than the header is an error naming it."""
    # utf-8-sig: spreadsheet exports often start with a byte-order mark.
    with path.open(encoding="utf-8-sig", newline="") as f:
        lines = [line for line in csv.reader(f, strict=True) if line and not (len(line) == 1 and not line[0].strip())]
    if not lines:
        raise ValueError("No columns to parse from file")
    names: list[str] = []
    for i, raw in enumerate(lines[0]):
        name = candidate = raw or f"Unnamed: {i}"
        n = 0
        while candidate in names:
            n += 1
            candidate = f"{name}.{n}"
        names.append(candidate)
    for row, line in enumerate(lines[1:], start=1):
        if len(line) > len(names):
            raise ValueError(f"row {row} has {len(line)} cells, the header {len(names)}")
    return names, (line + [""] * (len(names) - len(line)) for line in lines[1:])


def _read_frame(path: Path):
    import pandas as pd   # Parquet and JSON Lines only

    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    # JSON Lines: check each line first so a bad one is named by its line number.
    lines = path.read_text(encoding="utf-8").split("\n")  # not splitlines(): U+2028 is valid inside JSON
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number} is not valid JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise ValueError(f"line {number} is not a JSON object")
    if not any(line.strip() for line in lines):
        return pd.DataFrame()
    return pd.read_json(path, lines=True, dtype=False, precise_float=True, encoding="utf-8")


def _cell_text(value: object) -> str:
    """One cell as text: missing -> "", floats in their shortest round-trip form."""
    if value is None or _is_pandas_na(value) or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _is_pandas_na(value: object) -> bool:
    """pandas' missing value (Parquet and JSON Lines cells), without importing pandas for a CSV catalog."""
    return type(value).__name__ == "NAType" and type(value).__module__.startswith("pandas")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- field parsers: each returns the parsed value, or None after adding a problem ---------------

def _text(row: dict[str, str], column: str, where: str, problems: _Problems, *,
          required: bool = True, multiline: bool = False) -> str | None:
    """NFC-normalised, stripped text; control characters rejected (newline allowed if multiline)."""
    value = unicodedata.normalize("NFC", row.get(column, "")).strip()
    if multiline:
        value = value.replace("\r\n", "\n")
    if required and not value:
        problems.add(where, "empty required value")
        return None
    allowed = {"\n"} if multiline else set()
    bad = sorted({ch for ch in value if unicodedata.category(ch) == "Cc" and ch not in allowed})
    if bad:
        problems.add(where, f"control character(s) {', '.join(f'U+{ord(ch):04X}' for ch in bad)} in {value!r}")
        return None
    return value


def _currency(raw: str, where: str, problems: _Problems) -> str | None:
    code = raw.strip().upper()
    if not code:
        problems.add(where, "empty required value")
        return None
    if not is_currency(code):
        problems.add(where, f"unknown ISO 4217 currency {raw!r}")
        return None
    return code


def _price(raw: str, currency: str | None, where: str, problems: _Problems) -> Decimal | None:
    """A plain non-negative decimal, at most the currency's number of decimal places."""
    text = raw.strip()
    if not text:
        problems.add(where, "empty required value")
        return None
    if text.startswith("-") and PLAIN_DECIMAL_RE.fullmatch(text[1:]):
        problems.add(where, f"price {text!r} is negative")
        return None
    if not PLAIN_DECIMAL_RE.fullmatch(text):
        problems.add(where, f"price {text!r} is not a number (write it like 1299.99: digits, one '.')")
        return None
    amount = Decimal(text)
    if currency is None:
        return amount
    places = get_currency_precision(currency)
    try:
        quantized = amount.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # more digits than the decimal context holds
        problems.add(where, f"price {text!r} is too large")
        return None
    if quantized != amount:
        problems.add(where, f"price {text!r} has more decimal places than {currency} allows ({places})")
        return None
    return quantized  # canonical form, e.g. 449.0 -> 449.00 for MXN


def _contained_path(root: Path, raw: str, where: str, problems: _Problems) -> Path | None:
    """`raw` relative to root, resolved (symlinks followed) and still inside root."""
    text = raw.strip()
    if not text:
        problems.add(where, "empty required value")
        return None
    candidate = Path(text)
    if candidate.is_absolute() or text.startswith(("/", "\\")):
        problems.add(where, f"path {text!r} is absolute; give it relative to the catalog folder")
        return None
    try:
        resolved = (root / candidate).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        problems.add(where, f"path {text!r} cannot be resolved ({_first_line(exc)})")
        return None
    if not resolved.is_relative_to(root):
        problems.add(where, f"path {text!r} resolves to {resolved}, outside the catalog folder")
        return None
    if not resolved.is_file():
        problems.add(where, f"file {text!r} does not exist")
        return None
    return resolved


def _sized_file(root: Path, raw: str, where: str, problems: _Problems, *, kind: str, max_bytes: int) -> Path | None:
    """A contained file (`_contained_path`) of at most max_bytes."""
    path = _contained_path(root, raw, where, problems)
    if path is None:
        return None
    size = path.stat().st_size
    if size > max_bytes:
        problems.add(where, f"{kind} {raw!r} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
        return None
    return path


def _audio(root: Path, raw: str, where: str, problems: _Problems) -> Path | None:
    """A contained WAV, MP3 or M4A file with an audio stream that decodes to the end."""
    raw = raw.strip()
    path = _sized_file(root, raw, where, problems, kind="music", max_bytes=MAX_AUDIO_BYTES)
    if path is None:
        return None
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        problems.add(where, f"music {raw!r}: use a {', '.join(AUDIO_SUFFIXES)} file")
        return None
    try:
        audio_duration_s(path)
    except ClipError as exc:
        problems.add(where, f"music {raw!r} is not readable audio ({str(exc).split(': ', 1)[-1]})")
        return None
    return path


def _image(root: Path, raw: str, where: str, problems: _Problems) -> Path | None:
    """A contained JPEG/PNG/WebP file that decodes fully and is within the size limits."""
    raw = raw.strip()
    path = _sized_file(root, raw, where, problems, kind="image", max_bytes=MAX_IMAGE_BYTES)
    if path is None:
        return None
    try:
        with Image.open(path) as image:
            fmt, (width, height) = image.format, image.size
            if fmt not in IMAGE_FORMATS:
                problems.add(where, f"image {raw!r} is {fmt}; use one of {', '.join(sorted(IMAGE_FORMATS))}")
                return None
            if width * height > MAX_IMAGE_PIXELS:
                problems.add(where, f"image {raw!r} is {width}x{height} ({width * height / 1e6:.1f} MP); "
                                    f"the limit is {MAX_IMAGE_PIXELS / 1e6:.0f} MP")
                return None
            image.verify()
        # verify() misses truncated JPEG data; a full decode does not.
        with Image.open(path) as image:
            image.load()
    except Image.DecompressionBombError:
        problems.add(where, f"image {raw!r} is larger than {MAX_IMAGE_PIXELS / 1e6:.0f} MP")
        return None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        problems.add(where, f"file {raw!r} is not a readable image ({_first_line(exc)})")
        return None
    return path


def _canonical_tag(raw: str) -> tuple[str, str, str | None, str] | None:
    """(tag, language, script, region) in canonical case, or None when the syntax is wrong."""
    match = TAG_RE.fullmatch(raw.strip())
    if match is None:
        return None
    language, script, region = match.group(1).lower(), match.group(2), match.group(3).upper()
    script = script.title() if script else None
    tag = "-".join(part for part in (language, script, region) if part)
    return tag, language, script, region


def _locale_tag(raw: str, where: str, problems: _Problems) -> tuple[str, str, str] | None:
    """Validate a BCP 47 tag against CLDR (via babel); return (canonical tag, language, region)."""
    parts = _canonical_tag(raw)
    if parts is None:
        problems.add(where, f"malformed locale tag {raw!r} (expected language[-Script]-REGION, e.g. 'zh-CN')")
        return None
    tag, language, script, region = parts
    try:
        parsed = BabelLocale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        problems.add(where, f"unknown locale tag {raw!r}")
        return None
    # babel falls back to likely subtags (en-ZZ -> en_US, iw -> he): insist on an exact match.
    if parsed.language != language or parsed.territory != region or (script and parsed.script != script):
        problems.add(where, f"unknown locale tag {raw!r} (closest known: {str(parsed).replace('_', '-')!r})")
        return None
    return tag, language, region


# -- tables ------------------------------------------------------------------------------------

def _parse_products(root: Path, table: _Table, problems: _Problems) -> _Keyed[Product]:
    """Products by SKU."""
    out = _Keyed[Product]()
    for row_number, row in enumerate(table.rows, start=1):
        at = partial(_where, table.name, row_number)
        sku = _sku(row["sku"], at("sku"), problems)
        if sku is not None and sku in out.rows:
            problems.add(at("sku"), f"duplicate sku {sku!r} (first at row {out.rows[sku]})")
            continue
        title = _text(row, "title", at("title"), problems)
        description = _text(row, "description", at("description"), problems, multiline=True)
        category = _text(row, "category", at("category"), problems)
        photo = _image(root, row["photo"], at("photo"), problems)
        currency = _currency(row["currency"], at("currency"), problems)
        price = _price(row["price"], currency, at("price"), problems)
        duration = _duration(row.get("duration_s", ""), at("duration_s"), problems)
        photo_source = _photo_source(row.get("photo_source", ""), at("photo_source"), problems)
        owner = _text(row, "photo_owner", at("photo_owner"), problems, required=False)
        licence = _text(row, "photo_licence", at("photo_licence"), problems, required=False)
        if sku is None:
            continue
        out.rows[sku] = row_number
        if currency is not None:
            out.currency[sku] = currency
        fields = (title, description, category, photo, currency, price, duration, photo_source, owner, licence)
        out.records[sku] = None if any(f is None for f in fields) else Product(
            sku=sku, title=title, description=description, photo=photo, price=price,  # type: ignore[arg-type]
            currency=currency, category=category, duration_s=duration, row=row_number,  # type: ignore[arg-type]
            photo_source=photo_source or None, photo_owner=owner, photo_licence=licence,  # type: ignore[arg-type]
        )
    return out


def _photo_source(raw: str, where: str, problems: _Problems, column: str = "photo_source") -> str | None:
    """"" (the catalog says nothing), "unknown", or an IPTC digital source type (short name or IRI) as its
    IRI; None after reporting a value outside the vocabulary. Also brand.json's logo_source."""
    value = raw.strip()
    if value in ("", "unknown"):
        return value
    try:
        return SourceType.parse(value).value
    except ValueError:
        known = ", ".join(t.short for t in SourceType)
        problems.add(where, f"{column} {value!r} is not 'unknown' or an IPTC digital source type ({known})")
        return None


def _sku(raw: str, where: str, problems: _Problems) -> str | None:
    sku = raw.strip()
    if not sku:
        problems.add(where, "empty required value")
        return None
    if not SKU_RE.fullmatch(sku):
        problems.add(where, f"sku {sku!r} must be 1-64 of A-Z a-z 0-9 . _ - (it names output files)")
        return None
    return sku


def _duration(raw: str, where: str, problems: _Problems) -> float | None:
    text = raw.strip()
    if not text:
        return DEFAULT_DURATION_S
    try:
        value = float(text)
    except ValueError:
        problems.add(where, f"duration {text!r} is not a number")
        return None
    low, high = DURATION_RANGE_S
    if not (math.isfinite(value) and low <= value <= high):
        problems.add(where, f"duration {text!r} must be between {low:g} and {high:g} seconds")
        return None
    return value


def _parse_locales(table: _Table, known_profiles: frozenset[str] | None, problems: _Problems) -> _Keyed[Locale]:
    """Locales by canonical tag."""
    out = _Keyed[Locale]()
    for row_number, row in enumerate(table.rows, start=1):
        at = partial(_where, table.name, row_number)
        if not row["tag"].strip():
            problems.add(at("tag"), "empty required value")
            parsed = None
        else:
            parsed = _locale_tag(row["tag"], at("tag"), problems)
        if parsed is not None and parsed[0] in out.rows:
            problems.add(at("tag"), f"duplicate locale tag {parsed[0]!r} (first at row {out.rows[parsed[0]]})")
            continue
        ok = parsed is not None
        if parsed is not None:
            tag, language, region = parsed
            if row["language"].strip().lower() != language:
                problems.add(at("language"), f"language {row['language']!r} does not match tag {tag!r}")
                ok = False
            if row["region"].strip().upper() != region:
                problems.add(at("region"), f"region {row['region']!r} does not match tag {tag!r}")
                ok = False
        currency = _currency(row["currency"], at("currency"), problems)
        profile = _rule_profile(row["rule_profile"], known_profiles, at("rule_profile"), problems)
        aspects = _aspect_ratios(row["aspect_ratios"], at("aspect_ratios"), problems)
        if parsed is None:
            continue
        tag, language, region = parsed
        out.rows[tag] = row_number
        if currency is not None:
            out.currency[tag] = currency
        valid = ok and currency is not None and profile is not None and aspects is not None
        out.records[tag] = Locale(
            tag=tag, language=language, region=region, currency=currency,  # type: ignore[arg-type]
            rule_profile=profile, aspect_ratios=aspects, row=row_number,  # type: ignore[arg-type]
        ) if valid else None
    return out


def _rule_profile(raw: str, known: frozenset[str] | None, where: str, problems: _Problems) -> str | None:
    profile = _text({"rule_profile": raw}, "rule_profile", where, problems)
    if profile is None:
        return None
    # one profile, or several that all apply to the market: "US-CA;US-NY"
    codes = [c.strip() for c in profile.split(";")]
    if any(not c for c in codes) or len(set(codes)) != len(codes):
        problems.add(where, f"rule profile {profile!r}: expected profile codes separated by ';', each once")
        return None
    unknown = [c for c in codes if known is not None and c not in known]
    if unknown:
        problems.add(where, f"unknown rule profile {unknown[0]!r} (known: {', '.join(sorted(known or ()))}; "
                            f"a market with no specific rules can name BASELINE)")
        return None
    profile = ";".join(codes)
    return profile


def _aspect_ratios(raw: str, where: str, problems: _Problems) -> tuple[str, ...] | None:
    parts = [p.strip() for p in raw.split(";") if p.strip()]
    if not parts:
        return ASPECT_RATIOS
    unknown = [p for p in parts if p not in ASPECT_RATIOS]
    if unknown:
        problems.add(where, f"unknown aspect ratio(s) {', '.join(map(repr, unknown))} "
                            f"(allowed: {'; '.join(ASPECT_RATIOS)})")
        return None
    if len(set(parts)) != len(parts):
        problems.add(where, f"aspect ratio listed twice in {raw!r}")
        return None
    return tuple(parts)


def _parse_copy(table: _Table, products: _Keyed[Product], locales: _Keyed[Locale],
                problems: _Problems) -> dict[tuple[str, str], Copy | None]:
    """Copy by (sku, canonical tag); None for a row with problems. Unknown SKUs/locales are errors."""
    copies: dict[tuple[str, str], Copy | None] = {}
    first_row: dict[tuple[str, str], int] = {}
    for row_number, row in enumerate(table.rows, start=1):
        at = partial(_where, table.name, row_number)
        sku, raw_locale = row["sku"].strip(), row["locale"].strip()
        parts = _canonical_tag(raw_locale)
        tag = parts[0] if parts else raw_locale
        known = True
        if not sku:
            problems.add(at("sku"), "empty required value")
            known = False
        elif sku not in products.rows:
            problems.add(at("sku"), f"unknown sku {sku!r} (not in products)")
            known = False
        if not raw_locale:
            problems.add(at("locale"), "empty required value")
            known = False
        elif tag not in locales.rows:
            problems.add(at("locale"), f"unknown locale {raw_locale!r} (not in locales)")
            known = False
        if known and (sku, tag) in first_row:
            problems.add(at("locale"), f"duplicate copy row for sku {sku!r} and locale {tag!r} "
                                       f"(first at row {first_row[(sku, tag)]})")
            continue
        headline = _text(row, "headline", at("headline"), problems)
        cta = _text(row, "cta", at("cta"), problems)
        captions = _captions(row["captions"], at("captions"), problems)
        price_ok, price = _copy_price(row.get("price", ""), products.currency.get(sku),
                                      locales.currency.get(tag), sku, tag, at("price"), problems)
        author = _copy_author(row.get("copy_author", ""), at("copy_author"), problems)
        if not known:
            continue
        first_row[(sku, tag)] = row_number
        valid = (headline is not None and cta is not None and captions is not None and price_ok
                 and author is not None)
        copies[(sku, tag)] = Copy(
            sku=sku, locale=tag, headline=headline, cta=cta,  # type: ignore[arg-type]
            captions=captions, price=price, row=row_number, author=author,  # type: ignore[arg-type]
        ) if valid else None
    return copies


def _copy_author(raw: str, where: str, problems: _Problems, column: str = "copy_author") -> Author | None:
    """Who or what wrote the row (also brand.json's author): empty means unknown, never assumed human;
    None after reporting a bad value."""
    value = unicodedata.normalize("NFC", raw).strip()
    if not value:
        return Author("unknown")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        problems.add(where, f"{column} {value!r} contains a control character")
        return None
    try:
        return Author.parse(value)
    except ValueError as exc:
        problems.add(where, f"{column} {exc}")
        return None


def _captions(raw: str, where: str, problems: _Problems) -> tuple[str, ...] | None:
    """Caption lines separated by '|' (written ' | '); each line is checked like any copy text."""
    if not raw.strip():
        problems.add(where, "empty required value")
        return None
    lines = [unicodedata.normalize("NFC", line).strip() for line in raw.split("|")]
    if any(not line for line in lines):
        problems.add(where, f"empty caption line in {raw.strip()!r}")
        return None
    checked = [_text({"line": line}, "line", where, problems) for line in lines]
    return None if any(line is None for line in checked) else tuple(checked)  # type: ignore[arg-type]


def _copy_price(raw: str, product_currency: str | None, locale_currency: str | None, sku: str, tag: str,
                where: str, problems: _Problems) -> tuple[bool, Decimal | None]:
    """(ok, price). A price is required exactly when the locale's currency differs from the
    product's: we never convert currencies, and a second price in the same currency would be ambiguous."""
    text = raw.strip()
    if product_currency is None or locale_currency is None:
        # The currency problem is reported on its own row; still check the number itself.
        return (False, None) if text and _price(text, None, where, problems) is None else (True, None)
    if product_currency == locale_currency:
        if text:
            problems.add(where, f"price {text!r} given, but locale {tag!r} uses the product's currency "
                                f"{product_currency}; leave it empty (the product price applies)")
            return False, None
        return True, None
    if not text:
        problems.add(where, f"missing price for sku {sku!r} in locale {tag!r}: the product is priced in "
                            f"{product_currency} and the locale uses {locale_currency} (we never convert)")
        return False, None
    price = _price(text, locale_currency, where, problems)
    return price is not None, price


# -- brand kit ---------------------------------------------------------------------------------

def _read_brand(root: Path, problems: _Problems) -> BrandKit | None:
    path = root / "brand.json"
    if not path.is_file():
        problems.add("brand.json", "missing")
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.add("brand.json", f"not valid JSON ({_first_line(exc)})")
        return None
    if not isinstance(data, dict):
        problems.add("brand.json", "must hold one JSON object")
        return None

    def at(key: str) -> str:
        return f"brand.json, key {key!r}"

    for key in sorted(set(data) - set(BRAND_KEYS) - set(BRAND_OPTIONAL)):
        problems.add(at(key), f"unknown key (expected {', '.join(BRAND_KEYS + BRAND_OPTIONAL)})")
    values: dict[str, str | None] = {}
    for key in BRAND_KEYS + BRAND_OPTIONAL:
        value = data.get(key)
        if value is None and key in BRAND_OPTIONAL:
            continue
        if not isinstance(value, str):
            problems.add(at(key), "missing" if value is None else f"must be a string, got {value!r}")
            values[key] = None
            continue
        if key.endswith("_color"):
            values[key] = value.strip().upper() if COLOR_RE.fullmatch(value.strip()) else None
            if values[key] is None:
                problems.add(at(key), f"color {value!r} is not #RRGGBB")
        elif key == "logo":
            logo = _image(root, value, at(key), problems)
            values[key] = str(logo) if logo else None
        elif key == "music":
            music = _audio(root, value, at(key), problems)
            values[key] = str(music) if music else None
        elif key in ("logo_source", "music_source"):
            values[key] = _photo_source(value, at(key), problems, column=key)
        elif key == "author":
            author = _copy_author(value, at(key), problems, column=key)
            values[key] = str(author) if author else None
        else:
            values[key] = _text({key: value}, key, at(key), problems, required=key in BRAND_KEYS)
    if any(values.get(k) is None for k in BRAND_KEYS) or \
            any(data.get(k) is not None and values.get(k) is None for k in BRAND_OPTIONAL) or \
            any(data.get(k) is not None and not values.get(k) for k in ("logo", "music")):
        return None
    return BrandKit(
        name=values["name"], primary_color=values["primary_color"],  # type: ignore[arg-type]
        secondary_color=values["secondary_color"], text_color=values["text_color"],  # type: ignore[arg-type]
        font_family=values["font_family"],  # type: ignore[arg-type]
        logo=Path(values["logo"]) if values.get("logo") else None,  # type: ignore[arg-type]
        logo_source=values.get("logo_source") or None, logo_owner=values.get("logo_owner") or "",
        logo_licence=values.get("logo_licence") or "",
        music=Path(values["music"]) if values.get("music") else None,  # type: ignore[arg-type]
        music_source=values.get("music_source") or None, music_owner=values.get("music_owner") or "",
        music_licence=values.get("music_licence") or "",
        author=Author.parse(values.get("author") or "unknown"),
    )
