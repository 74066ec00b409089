"""Every malformed catalog gives one CatalogError whose message names the file, row and column."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pytest
from PIL import Image

from catalogs import CatalogError, load_catalog
from catalogs.load import MAX_PROBLEMS

if TYPE_CHECKING:
    from conftest import EditableCatalog


@dataclass(frozen=True)
class Case:
    id: str
    edit: Callable[[EditableCatalog], None]
    where: str        # "file row N, column 'c'" (or "file" for whole-file problems)
    says: str         # a fragment of the problem text, naming the bad value


def cell(table: str, row: int, column: str, value: str) -> Callable[[EditableCatalog], None]:
    return lambda cat: cat.set(table, row, column, value)


def drop_column(table: str, column: str) -> Callable[[EditableCatalog], None]:
    def edit(cat: EditableCatalog) -> None:
        rows = cat.rows(table)
        for r in rows:
            del r[column]
        cat.write(table, rows)
    return edit


def append_copy_of(table: str, row: int, **changes: str) -> Callable[[EditableCatalog], None]:
    def edit(cat: EditableCatalog) -> None:
        rows = cat.rows(table)
        rows.append({**rows[row - 1], **changes})
        cat.write(table, rows)
    return edit


def delete_row(table: str, row: int) -> Callable[[EditableCatalog], None]:
    def edit(cat: EditableCatalog) -> None:
        rows = cat.rows(table)
        del rows[row - 1]
        cat.write(table, rows)
    return edit


def photo_file(name: str, write: Callable[[Path], None], row: int = 2) -> Callable[[EditableCatalog], None]:
    """Write a photo with `write` under photos/ and point product `row` at it."""
    def edit(cat: EditableCatalog) -> None:
        write(cat.root / "photos" / name)
        cat.set("products", row, "photo", f"photos/{name}")
    return edit


def outside_file(cat: EditableCatalog) -> Path:
    outside = cat.root.parent / "outside.jpg"
    Image.new("RGB", (8, 8)).save(outside, "JPEG")
    return outside


def escape_dotdot(cat: EditableCatalog) -> None:
    outside_file(cat)
    cat.set("products", 1, "photo", "../outside.jpg")


def escape_absolute(cat: EditableCatalog) -> None:
    cat.set("products", 1, "photo", str(outside_file(cat)))


def escape_symlink(cat: EditableCatalog) -> None:
    (cat.root / "photos" / "link.jpg").symlink_to(outside_file(cat))
    cat.set("products", 3, "photo", "photos/link.jpg")


def truncated_jpeg(path: Path) -> None:
    Image.effect_noise((256, 256), 64).convert("RGB").save(path, "JPEG", quality=92)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def huge_pixels(path: Path) -> None:
    Image.new("L", (8000, 5001)).save(path, "PNG")  # 40.008 MP, a few kB on disk


def huge_bytes(path: Path) -> None:
    Image.new("RGB", (64, 64)).save(path, "JPEG")
    with open(path, "r+b") as f:
        f.truncate(50_000_001)  # sparse: > 50 MB without writing 50 MB


def brand(**changes: object) -> Callable[[EditableCatalog], None]:
    def edit(cat: EditableCatalog) -> None:
        data = json.loads((cat.root / "brand.json").read_text(encoding="utf-8"))
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        (cat.root / "brand.json").write_text(json.dumps(data), encoding="utf-8")
    return edit


def brand_logo_outside(cat: EditableCatalog) -> None:
    outside_file(cat)
    brand(logo="../outside.jpg")(cat)


def music_file(name: str, data: bytes) -> Callable[[EditableCatalog], None]:
    def edit(cat: EditableCatalog) -> None:
        (cat.root / name).write_bytes(data)
        brand(music=name)(cat)
    return edit


CASES = [
    # locales
    Case("photo-source-outside-iptc", cell("products", 1, "photo_source", "camera"),
         "products.csv row 1, column 'photo_source'", "photo_source 'camera' is not 'unknown' or an IPTC digital source type"),
    Case("photo-owner-control-character", cell("products", 2, "photo_owner", "Jane\x07Doe"),
         "products.csv row 2, column 'photo_owner'", "control character(s) U+0007"),
    Case("malformed-tag", cell("locales", 1, "tag", "en_us!"),
         "locales.csv row 1, column 'tag'", "malformed locale tag 'en_us!'"),
    Case("posix-underscore-tag", cell("locales", 2, "tag", "de_DE"),
         "locales.csv row 2, column 'tag'", "malformed locale tag 'de_DE'"),
    Case("unknown-language", cell("locales", 3, "tag", "xx-YY"),
         "locales.csv row 3, column 'tag'", "unknown locale tag 'xx-YY'"),
    Case("unknown-region", cell("locales", 4, "tag", "ja-ZZ"),
         "locales.csv row 4, column 'tag'", "unknown locale tag 'ja-ZZ'"),
    Case("deprecated-language-alias", cell("locales", 1, "tag", "iw-IL"),
         "locales.csv row 1, column 'tag'", "unknown locale tag 'iw-IL' (closest known: 'he-IL')"),
    Case("language-disagrees-with-tag", cell("locales", 2, "language", "fr"),
         "locales.csv row 2, column 'language'", "language 'fr' does not match tag 'de-DE'"),
    Case("region-disagrees-with-tag", cell("locales", 3, "region", "ES"),
         "locales.csv row 3, column 'region'", "region 'ES' does not match tag 'es-MX'"),
    Case("duplicate-locale-tag", cell("locales", 2, "tag", "EN-us"),
         "locales.csv row 2, column 'tag'", "duplicate locale tag 'en-US' (first at row 1)"),
    Case("unknown-currency-locale", cell("locales", 5, "currency", "RMB"),
         "locales.csv row 5, column 'currency'", "unknown ISO 4217 currency 'RMB'"),
    Case("unknown-aspect-ratio", cell("locales", 6, "aspect_ratios", "9:16;4:3"),
         "locales.csv row 6, column 'aspect_ratios'", "unknown aspect ratio(s) '4:3'"),
    Case("empty-rule-profile", cell("locales", 1, "rule_profile", " "),
         "locales.csv row 1, column 'rule_profile'", "empty required value"),
    # products
    Case("duplicate-sku", cell("products", 3, "sku", "ESP-BLEND-1KG"),
         "products.csv row 3, column 'sku'", "duplicate sku 'ESP-BLEND-1KG' (first at row 1)"),
    Case("unsafe-sku", cell("products", 1, "sku", "../ESP"),
         "products.csv row 1, column 'sku'", "sku '../ESP' must be 1-64 of"),
    Case("missing-column", drop_column("products", "price"), "products.csv", "missing column 'price'"),
    Case("missing-copy-column", drop_column("copy", "captions"), "copy.csv", "missing column 'captions'"),
    Case("unknown-column", lambda cat: cat.write("products", [{**r, "duration": "6"} for r in cat.rows("products")]),
         "products.csv", "unknown column 'duration'"),
    Case("empty-title", cell("products", 2, "title", "   "),
         "products.csv row 2, column 'title'", "empty required value"),
    Case("empty-category", cell("products", 3, "category", ""),
         "products.csv row 3, column 'category'", "empty required value"),
    Case("price-not-a-number", cell("products", 1, "price", "12,99"),
         "products.csv row 1, column 'price'", "price '12,99' is not a number"),
    Case("price-nan", cell("products", 2, "price", "NaN"),
         "products.csv row 2, column 'price'", "price 'NaN' is not a number"),
    Case("price-negative", cell("products", 2, "price", "-4.50"),
         "products.csv row 2, column 'price'", "price '-4.50' is negative"),
    Case("price-too-precise", cell("products", 3, "price", "39.999"),
         "products.csv row 3, column 'price'", "price '39.999' has more decimal places than USD allows (2)"),
    Case("unknown-currency-product", cell("products", 1, "currency", "XYZ"),
         "products.csv row 1, column 'currency'", "unknown ISO 4217 currency 'XYZ'"),
    Case("duration-out-of-range", cell("products", 1, "duration_s", "90"),
         "products.csv row 1, column 'duration_s'", "duration '90' must be between 2 and 60 seconds"),
    Case("duration-not-a-number", cell("products", 2, "duration_s", "six"),
         "products.csv row 2, column 'duration_s'", "duration 'six' is not a number"),
    Case("photo-escapes-with-dotdot", escape_dotdot,
         "products.csv row 1, column 'photo'", "path '../outside.jpg' resolves to"),
    Case("photo-absolute", escape_absolute,
         "products.csv row 1, column 'photo'", "is absolute; give it relative to the catalog folder"),
    Case("photo-symlink-outside", escape_symlink,
         "products.csv row 3, column 'photo'", "path 'photos/link.jpg' resolves to"),
    Case("photo-missing", cell("products", 2, "photo", "photos/nope.jpg"),
         "products.csv row 2, column 'photo'", "file 'photos/nope.jpg' does not exist"),
    Case("photo-empty", cell("products", 2, "photo", ""),
         "products.csv row 2, column 'photo'", "empty required value"),
    Case("photo-not-an-image", photo_file("notes.jpg", lambda p: p.write_text("not a photo")),
         "products.csv row 2, column 'photo'", "file 'photos/notes.jpg' is not a readable image"),
    Case("photo-truncated", photo_file("cut.jpg", truncated_jpeg),
         "products.csv row 2, column 'photo'", "file 'photos/cut.jpg' is not a readable image"),
    Case("photo-too-many-pixels", photo_file("big.png", huge_pixels),
         "products.csv row 2, column 'photo'", "image 'photos/big.png' is 8000x5001 (40.0 MP); the limit is 40 MP"),
    Case("photo-too-many-bytes", photo_file("heavy.jpg", huge_bytes),
         "products.csv row 2, column 'photo'", "image 'photos/heavy.jpg' is 50.0 MB; the limit is 50 MB"),
    Case("photo-wrong-format", photo_file("icon.gif", lambda p: Image.new("P", (8, 8)).save(p, "GIF")),
         "products.csv row 2, column 'photo'", "image 'photos/icon.gif' is GIF; use one of JPEG, PNG, WEBP"),
    # copy
    Case("copy-unknown-sku", cell("copy", 5, "sku", "NOPE-1"),
         "copy.csv row 5, column 'sku'", "unknown sku 'NOPE-1' (not in products)"),
    Case("copy-unknown-locale", cell("copy", 6, "locale", "fr-FR"),
         "copy.csv row 6, column 'locale'", "unknown locale 'fr-FR' (not in locales)"),
    Case("copy-duplicate-row", append_copy_of("copy", 8, locale="DE-de"),
         "copy.csv row 19, column 'locale'",
         "duplicate copy row for sku 'CAT-BED-PLUSH' and locale 'de-DE' (first at row 8)"),
    Case("copy-missing-row", delete_row("copy", 10),
         "copy.csv", "no copy row for sku 'CAT-BED-PLUSH' (products row 2) and locale 'ja-JP' (locales row 4)"),
    Case("copy-missing-locale-price", cell("copy", 14, "price", ""),
         "copy.csv row 14, column 'price'",
         "missing price for sku 'RKT-KIT-LP1' in locale 'de-DE': the product is priced in USD "
         "and the locale uses EUR (we never convert)"),
    Case("copy-price-in-product-currency", cell("copy", 1, "price", "19.99"),
         "copy.csv row 1, column 'price'", "price '19.99' given, but locale 'en-US' uses the product's currency"),
    Case("copy-price-negative", cell("copy", 2, "price", "-1"),
         "copy.csv row 2, column 'price'", "price '-1' is negative"),
    Case("copy-price-fraction-of-yen", cell("copy", 4, "price", "3480.5"),
         "copy.csv row 4, column 'price'", "price '3480.5' has more decimal places than JPY allows (0)"),
    Case("copy-empty-headline", cell("copy", 3, "headline", ""),
         "copy.csv row 3, column 'headline'", "empty required value"),
    Case("copy-control-character", cell("copy", 7, "headline", "Nap\x07time"),
         "copy.csv row 7, column 'headline'", "control character(s) U+0007"),
    Case("copy-control-character-in-caption", cell("copy", 9, "captions", "Line one | Line\x1btwo"),
         "copy.csv row 9, column 'captions'", "control character(s) U+001B"),
    Case("copy-empty-caption-line", cell("copy", 11, "captions", "Only one | "),
         "copy.csv row 11, column 'captions'", "empty caption line"),
    Case("copy-author-no-kind", cell("copy", 5, "copy_author", "Li Wei"),
         "copy.csv row 5, column 'copy_author'", "copy_author 'Li Wei' is not 'unknown' or KIND:NAME"),
    Case("copy-author-unknown-kind", cell("copy", 6, "copy_author", "robot:GPT"),
         "copy.csv row 6, column 'copy_author'", "copy_author 'robot:GPT' is not 'unknown' or KIND:NAME"),
    Case("copy-author-no-name", cell("copy", 7, "copy_author", "mt: "),
         "copy.csv row 7, column 'copy_author'", "copy_author 'mt:' is not 'unknown' or KIND:NAME"),
    Case("copy-author-human-is-not-a-kind", cell("copy", 8, "copy_author", "human:Jonas"),
         "copy.csv row 8, column 'copy_author'", "copy_author 'human:Jonas'"),
    # brand kit
    Case("brand-bad-author", brand(author="Harbor design"),
         "brand.json, key 'author'", "author 'Harbor design' is not 'unknown' or KIND:NAME"),
    Case("brand-bad-logo-source", brand(logo_source="camera"),
         "brand.json, key 'logo_source'", "logo_source 'camera' is not 'unknown' or an IPTC digital source type"),
    Case("brand-bad-color", brand(primary_color="teal"),
         "brand.json, key 'primary_color'", "color 'teal' is not #RRGGBB"),
    Case("brand-missing-key", brand(font_family=None), "brand.json, key 'font_family'", "missing"),
    Case("brand-unknown-key", brand(primary_colour="#000000"), "brand.json, key 'primary_colour'", "unknown key"),
    Case("brand-logo-outside", brand_logo_outside, "brand.json, key 'logo'", "path '../outside.jpg' resolves to"),
    Case("brand-music-missing", brand(music="sound/bed.wav"), "brand.json, key 'music'", "file 'sound/bed.wav' does not exist"),
    Case("brand-music-not-audio", music_file("bed.wav", b"RIFF\x00\x00\x00\x00WAVEnot really sound" * 40),
         "brand.json, key 'music'", "music 'bed.wav' is not readable audio"),
    Case("brand-music-flac", music_file("bed.flac", b"fLaC" + b"\x00" * 64),
         "brand.json, key 'music'", "music 'bed.flac': use a .wav, .mp3, .m4a file"),
    Case("brand-bad-music-source", brand(music_source="studio"),
         "brand.json, key 'music_source'", "music_source 'studio' is not 'unknown' or an IPTC digital source type"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_catalog_names_file_row_and_column(editable: EditableCatalog, case: Case) -> None:
    case.edit(editable)
    with pytest.raises(CatalogError) as info:
        editable.load()
    message = str(info.value)
    # One problem line names the place and the bad value, and the message shows it.
    line = next((p for p in info.value.problems if p.startswith(f"{case.where}: ") and case.says in p), None)
    assert line is not None, message
    assert f"  - {line}" in message


def test_unknown_rule_profile_when_profiles_are_known(editable: EditableCatalog,
                                                      sample_profiles: frozenset[str]) -> None:
    editable.set("locales", 5, "rule_profile", "CN-2024")
    assert editable.load().locales[4].rule_profile == "CN-2024"  # no profile list: not checked
    message = editable.error(known_profiles=sample_profiles)
    assert "locales.csv row 5, column 'rule_profile': unknown rule profile 'CN-2024' (known: CN, EU, JP" in message


def test_all_problems_are_reported_together(editable: EditableCatalog) -> None:
    editable.set("products", 1, "price", "free")
    editable.set("locales", 2, "language", "fr")
    editable.set("copy", 18, "cta", "")
    brand(text_color="#FFF")(editable)
    with pytest.raises(CatalogError) as info:
        editable.load()
    problems = info.value.problems
    assert len(problems) == 4, problems
    assert [p.split(":")[0] for p in problems] == [
        "products.csv row 1, column 'price'", "locales.csv row 2, column 'language'",
        "copy.csv row 18, column 'cta'", "brand.json, key 'text_color'"]
    assert str(info.value).startswith(f"catalog {editable.root} is invalid (4 problems):")


def test_a_bad_locale_row_does_not_hide_other_rows(editable: EditableCatalog) -> None:
    # A malformed tag is one problem; copy rows that name it are unknown locales, and nothing else is lost.
    editable.set("locales", 3, "tag", "es-mx!")
    editable.set("products", 2, "title", "")
    problems = pytest.raises(CatalogError, editable.load).value.problems
    assert "locales.csv row 3, column 'tag': malformed locale tag 'es-mx!'" in problems[1]
    assert problems[0] == "products.csv row 2, column 'title': empty required value"
    assert sum("unknown locale 'es-MX'" in p for p in problems) == 3


def test_message_is_capped_but_problems_are_complete(editable: EditableCatalog) -> None:
    rows = editable.rows("copy")
    for row in rows:
        row["headline"] = ""
        row["cta"] = ""
        row["captions"] = ""
    editable.write("copy", rows)
    with pytest.raises(CatalogError) as info:
        editable.load()
    assert len(info.value.problems) == 3 * len(rows)
    message = str(info.value)
    assert message.count("\n  - ") == MAX_PROBLEMS
    assert message.endswith(f"... and {3 * len(rows) - MAX_PROBLEMS} more")


def test_catalog_folder_must_exist(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not a directory"):
        load_catalog(tmp_path / "nowhere")


def test_symlink_inside_the_catalog_is_fine(editable: EditableCatalog) -> None:
    os.symlink("coffee.jpg", editable.root / "photos" / "alias.jpg")
    editable.set("products", 2, "photo", "photos/alias.jpg")
    assert editable.load().products[1].photo == (editable.root / "photos" / "coffee.jpg").resolve()


def test_copy_without_an_author_is_unknown_never_human(editable: EditableCatalog) -> None:
    editable.set("copy", 2, "copy_author", "")
    editable.set("copy", 3, "copy_author", "person:  Li   Wei ")
    copies = editable.load().copy
    assert (copies[1].author.kind, copies[1].author.human) == ("unknown", False)
    assert (copies[2].author.kind, copies[2].author.name, str(copies[2].author)) == ("person", "Li Wei",
                                                                                       "person:Li Wei")
    drop_column("copy", "copy_author")(editable)
    assert {c.author.kind for c in editable.load().copy} == {"unknown"}


def test_a_locale_names_several_rule_profiles_each_checked(editable: EditableCatalog,
                                                           sample_profiles: frozenset[str]) -> None:
    editable.set("locales", 1, "rule_profile", " US-CA ; US-NY ")
    loc = editable.load(known_profiles=sample_profiles).locales[0]
    assert (loc.rule_profile, loc.rule_profiles) == ("US-CA;US-NY", ("US-CA", "US-NY"))
    editable.set("locales", 1, "rule_profile", "US-CA;US-TX")
    assert "locales.csv row 1, column 'rule_profile': unknown rule profile 'US-TX'" in editable.error(
        known_profiles=sample_profiles)
    editable.set("locales", 1, "rule_profile", "US-CA;;US-CA")
    assert "expected profile codes separated by ';', each once" in editable.error(known_profiles=sample_profiles)
