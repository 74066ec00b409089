"""Plan the variant matrix of a catalog: one variant per product x locale x aspect ratio.

Each variant gets a key that hashes every input that can change its bytes (pipeline
version, photo content, copy, brand kit, layout, encoder and render options), so an
unchanged variant is recognised and skipped, and a changed one gets a new asset id.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from catalogs.schema import BrandKit, Catalog, Locale, Product
from generation.compose import format_price
from generation.layout import output_size
from foundation.primitives import Author, canonical_json, pipeline_version, sha256_file, sha256_text
from foundation.records import VariantSpec

PROMPT_TEMPLATES = Path(__file__).parent / "prompts" / "default.json"

if TYPE_CHECKING:  # torch is imported only when the diffusion backend is used
    from generation.diffusion import DiffusionSettings


@dataclass(frozen=True)
class RenderOptions:
    short_side: int = 720
    fps: int = 24
    seed: int = 0
    crf: int = 20
    preset: str = "veryfast"
    keyframe_s: float = 2.0                          # longest gap between keyframes (generation.compose.KEYFRAME_S)
    backend: str = "motion"                          # "motion" (CPU, from photos) or "diffusers"
    diffusion: "DiffusionSettings | None" = None     # model and parameters when backend == "diffusers"
    prompt_template: str = "product_hero"            # generation/prompts/default.json
    candidates: int = 1                              # takes per base clip (seeds seed .. seed+K-1)
    require_review: bool = False                     # a person picks (K > 1) and approves every variant


@dataclass(frozen=True)
class VariantPlan:
    variant_key: str
    product: Product
    locale: Locale
    spec: VariantSpec
    output_path: Path
    photo_sha256: str
    copy_row: int
    brand: BrandKit
    candidate_set: str           # names the product's takes; a reviewer picks within it
    pick: int | None             # a reviewer's recorded pick, or None (automatic or awaiting review)
    inputs_json: str = ""        # canonical JSON of every input; variant_key is its sha256
    copy_author: Author = Author("unknown")   # who or what wrote the copy row (catalog column copy_author)

    @property
    def asset_id(self) -> str:
        return self.spec.asset_id


def plan_variants(catalog: Catalog, options: RenderOptions, out_dir: Path,
                  pick_for: Callable[[str], int | None] = lambda _set: None,
                  rules_digest: Callable[[str], str] | None = None) -> tuple[VariantPlan, ...]:
    """Every product x locale x aspect ratio of the catalog, in a stable order.

    pick_for(candidate_set) gives a reviewer's pick among a product's takes; it is an input of
    the variant key, so a new pick re-renders exactly that product's variants. So is
    rules_digest(profile): the region rules in force, so a rule taking effect re-renders."""
    out_dir = Path(out_dir).resolve()
    # Each photo file is hashed once (products may share one), the brand kit and the version read once.
    by_path: dict[Path, str] = {}
    photo_hashes = {p.sku: by_path.get(p.photo) or by_path.setdefault(p.photo, sha256_file(p.photo))
                    for p in catalog.products}
    brand, version, options_dict = _brand_inputs(catalog), pipeline_version(), asdict(options)
    digests = {loc.rule_profile: rules_digest(loc.rule_profile) if rules_digest else None for loc in catalog.locales}
    # The prompt templates shape diffusion clips, so their content is an input too.
    templates = sha256_file(PROMPT_TEMPLATES) if options.backend == "diffusers" else None
    plans: list[VariantPlan] = []
    for product in catalog.products:
        takes = {"sku": product.sku, "photo_sha256": photo_hashes[product.sku], "duration_s": product.duration_s,
                 "options": options_dict, "prompt_templates": templates}
        candidate_set = sha256_text(canonical_json(takes))[:16]
        pick = pick_for(candidate_set) if options.candidates > 1 else None
        for locale in catalog.locales:
            copy = catalog.copy_for(product.sku, locale.tag)
            amount = copy.price if copy.price is not None else product.price
            currency = locale.currency if copy.price is not None else product.currency
            for aspect in locale.aspect_ratios:
                width, height = output_size(aspect, options.short_side)
                inputs = {
                    "pipeline": version,
                    "options": options_dict, "prompt_templates": templates, "pick": pick,
                    "photo_sha256": photo_hashes[product.sku],
                    "duration_s": product.duration_s,
                    "sku": product.sku, "locale": locale.tag, "aspect": aspect,
                    "rule_profile": locale.rule_profile,
                    "rules": digests[locale.rule_profile],
                    "headline": copy.headline, "cta": copy.cta, "captions": copy.captions,
                    "price": str(amount), "currency": currency,
                    "brand": brand,
                    # what the catalog says of the photo changes the manifest: only when it says something,
                    # so the keys of catalogs without these columns stay as they were
                    **({"photo": {"source": product.photo_source, "owner": product.photo_owner,
                                  "licence": product.photo_licence}}
                       if product.photo_source or product.photo_owner or product.photo_licence else {}),
                    # who wrote the copy changes the journal and the signed authorship claim; likewise only
                    # when the catalog names someone
                    **({"copy_author": str(copy.author)} if copy.author.kind != "unknown" else {}),
                }
                inputs_json = canonical_json(inputs)
                key = sha256_text(inputs_json)
                spec = VariantSpec(
                    asset_id=f"tsr-{key[:24]}", sku=product.sku, locale=locale.tag, aspect=aspect,
                    width=width, height=height, headline=copy.headline,
                    price_text=format_price(amount, currency, locale.tag), cta=copy.cta, captions=copy.captions,
                    primary_color=catalog.brand.primary_color, secondary_color=catalog.brand.secondary_color,
                    text_color=catalog.brand.text_color, font_family=catalog.brand.font_family,
                )
                name = f"{product.sku}_{locale.tag}_{aspect.replace(':', 'x')}.mp4"
                plans.append(VariantPlan(key, product, locale, spec, out_dir / product.sku / name,
                                         photo_hashes[product.sku], copy.row, catalog.brand, candidate_set, pick,
                                         inputs_json, copy.author))
    return tuple(plans)


def _brand_inputs(catalog: Catalog) -> dict:
    """The brand kit as a variant-key input: the logo and the music bed by their content; what brand.json
    says of them only when it says something, so the keys of brand kits without those keys stay as they were."""
    brand = asdict(catalog.brand) | {"logo": sha256_file(catalog.brand.logo) if catalog.brand.logo else None,
                                     "music": sha256_file(catalog.brand.music) if catalog.brand.music else None}
    brand["author"] = str(catalog.brand.author) if catalog.brand.author.kind != "unknown" else ""
    for key in ("logo_source", "logo_owner", "logo_licence", "author",
                "music", "music_source", "music_owner", "music_licence"):
        if not brand[key]:
            del brand[key]
    return brand


def output_folder(output_path: Path) -> Path:
    """The output folder (--out) a planned output path lies in: plans write <out>/<sku>/<file>."""
    return Path(output_path).parent.parent

