"""Everything a render can find wrong before it starts, checked in one pass with nothing written.

Every door calls `check_run` first: the CLI before any Prefect flow starts (so a bad catalog answers
in a second, with one clean message), and `plan_run` inside the flow for the doors that skip the CLI.
The errors it raises are the expected ones (`expected_errors()`); anything else is a bug and keeps its
traceback.
"""
from __future__ import annotations

from pathlib import Path

from catalogs import Catalog, CatalogError, load_catalog
from generation.plan import VariantPlan
from generation.text import TextFitError
from pipeline.settings import Settings

__all__ = ["TextFitProblems", "check_run", "check_text", "expected_errors"]


def expected_errors() -> tuple[type[BaseException], ...]:
    """The errors that mean "fix your input", not "Tessera has a bug": shown without a traceback.
    A function so that a catalog fault is reported without importing the later stages."""
    from compliance.decide import GateError
    from compliance.rules import RuleFileError
    from generation import GlyphError, TextFitError
    from generation.backends import GenerationError
    from generation.prompts import PromptError
    from pipeline.home import HomeError
    from provenance import CredentialError

    return (CatalogError, RuleFileError, GateError, CredentialError, GlyphError, TextFitError, PromptError,
            GenerationError, HomeError)


def check_run(settings: Settings, catalog_dir: Path, out_dir: Path) -> Catalog:
    """Load and check the catalog, the region rules, the text of every variant and the credentials.

    Raises CatalogError (every bad row at once), RuleFileError/GateError, GlyphError, TextFitProblems
    (every text that does not fit) or CredentialError; returns the loaded catalog. Writes nothing but
    a new home and its development credentials, once every other check passed (as a render would).
    """
    # 1. The catalog first, with only what loading it needs imported: most faults are here.
    from compliance.rules import known_profiles

    catalog = load_catalog(Path(catalog_dir), known_profiles=known_profiles(settings.rules_dirs))

    # 2. The rules in force on the render date, for every profile a locale names (planning reads them).
    from compliance import rules_digest
    from generation.plan import plan_variants
    from provenance import load_credentials
    from provenance.ledger import recorded_keys

    plans = plan_variants(catalog, settings.options, Path(out_dir),
                          rules_digest=lambda profile: rules_digest(profile, settings.as_of,
                                                                    rules_dir=settings.rules_dirs))

    # 3. Glyphs and text fit of every variant, before any frame exists: every overflow at once. A variant
    #    whose key this folder records was checked when it was rendered (the key covers every text, the
    #    size and the version); plan_run checks those of them that are rendered again (a changed file).
    recorded = recorded_keys(settings.ledger_url, Path(out_dir))
    check_text([p for p in plans if p.variant_key not in recorded], catalog)

    # 4. The home (made 0700 if this is its first render) and the signing credentials, last:
    #    development ones are created in the home on first use.
    from pipeline.home import open_home

    open_home(settings.home, create=True)
    load_credentials(settings.signing)
    return catalog


def check_text(plans, catalog: Catalog) -> None:
    """Glyph coverage and text fit of these variants: GlyphError, or TextFitProblems naming every overflow."""
    from generation import check_variant_text

    overflows = [(plan, exc) for plan in plans for exc in check_variant_text(plan.spec)]
    if overflows:
        raise TextFitProblems(_table_file(catalog.root, "copy"), overflows)


class TextFitProblems(TextFitError):
    """Every copy text of a catalog that does not fit its box, each naming the file, row, SKU, locale,
    field and the size it needed; one entry per text, with the aspect ratios where it overflows."""

    def __init__(self, copy_file: str, overflows: list[tuple[VariantPlan, TextFitError]]) -> None:
        grouped: dict[tuple, list[str]] = {}
        for plan, exc in overflows:
            key = (plan.copy_row, plan.spec.sku, plan.spec.locale, exc.field, exc.text, exc.font_px)
            grouped.setdefault(key, []).append(f"{plan.spec.aspect} box {exc.box[0]}x{exc.box[1]} px, "
                                               f"needs {exc.need[0]}x{exc.need[1]} px")
        self.problems = tuple(
            f"{copy_file} row {row}, column {field!r} (sku {sku!r}, locale {locale!r}): {text!r} does not fit "
            f"even at {font_px} px: " + "; ".join(sizes)
            for (row, sku, locale, field, text, font_px), sizes in grouped.items())
        n = len(self.problems)
        super().__init__(f"text does not fit its box in {n} place{'s' if n > 1 else ''} (shorten it, or render "
                         f"a larger --short-side):\n" + "\n".join(f"  - {p}" for p in self.problems))


def _table_file(root: Path, stem: str) -> str:
    """The name of a catalog table's file (copy.csv, copy.parquet or copy.jsonl), as the loader found it."""
    from catalogs.load import FORMATS
    return next((f"{stem}.{ext}" for ext in FORMATS if (root / f"{stem}.{ext}").is_file()), f"{stem}.*")
