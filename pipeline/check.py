"""Everything a render can find wrong before it starts, checked in one pass with nothing written.

Every door calls `check_run` first: the CLI before any Prefect flow starts (so a bad catalog answers
in a second, with one clean message), and `plan_run` inside the flow for the doors that skip the CLI.
The errors it raises are the expected ones (`expected_errors()`); anything else is a bug and keeps its
traceback.
"""
from __future__ import annotations

from pathlib import Path

from catalogs import Catalog, CatalogError, load_catalog
from pipeline.settings import Settings

__all__ = ["check_run", "expected_errors"]


def expected_errors() -> tuple[type[BaseException], ...]:
    """The errors that mean "fix your input", not "Tessera has a bug": shown without a traceback.
    A function so that a catalog fault is reported without importing the later stages."""
    from compliance.decide import GateError
    from compliance.rules import RuleFileError
    from generation import GlyphError, TextFitError
    from generation.backends import GenerationError
    from generation.prompts import PromptError
    from provenance import CredentialError

    return (CatalogError, RuleFileError, GateError, CredentialError, GlyphError, TextFitError, PromptError,
            GenerationError)


def check_run(settings: Settings, catalog_dir: Path, out_dir: Path) -> Catalog:
    """Load and check the catalog, the region rules, the credentials and the text of every variant.

    Raises CatalogError (every bad row at once), RuleFileError/GateError, CredentialError, GlyphError
    or TextFitError; returns the loaded catalog. Writes nothing but the development credentials,
    which a render creates in the home anyway.
    """
    # 1. The catalog first, with only what loading it needs imported: most faults are here.
    from compliance.rules import known_profiles

    catalog = load_catalog(Path(catalog_dir), known_profiles=known_profiles())

    # 2. The rules in force on the render date, for every profile a locale names (planning reads them).
    from compliance import rules_digest
    from generation import check_variant_text
    from generation.plan import plan_variants
    from provenance import load_credentials

    plans = plan_variants(catalog, settings.options, Path(out_dir),
                          rules_digest=lambda profile: rules_digest(profile, settings.as_of))

    # 3. The signing credentials (a production chain that is expired or mismatched stops here).
    load_credentials(settings.signing)

    # 4. Glyphs and text fit of every variant, before any frame exists.
    for plan in plans:
        check_variant_text(plan.spec)
    return catalog
