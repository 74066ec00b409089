"""Prompt templates for diffusion base clips, kept as data (generation/prompts/*.json).

A template file holds {"templates": {name: {"prompt": str, "negative_prompt": str}}}; the
strings are str.format templates over named fields. The caller passes three groups of
fields, which become `product_<key>`, `brand_<key>` and `scene_<key>`:

    render_prompt("product_hero",
                  product={"title": ..., "description": ..., "category": ...},
                  brand={"name": ..., "style": ..., "colors": ...},
                  scene_hint={"setting": ..., "season": ..., "talent": ...})

A field that a template names but the caller did not give is an error naming it. The
returned `template_id` names the file, the template and the sha256 of the template's
canonical JSON, so the manifest can record exactly which wording made a clip.
"""
from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Mapping, NamedTuple
from foundation.primitives import canonical_json, sha256_text

DEFAULT_TEMPLATES = Path(__file__).with_name("prompts") / "default.json"


class PromptError(ValueError):
    pass


class RenderedPrompt(NamedTuple):
    prompt: str
    negative_prompt: str
    template_id: str        # "<file stem>/<template name>@sha256:<hex of the template's canonical JSON>"


def load_templates(path: Path = DEFAULT_TEMPLATES) -> dict[str, dict[str, str]]:
    """The templates of one file, checked: every template has a string prompt and negative_prompt."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PromptError(f"prompt template file not found: {path}") from None
    except json.JSONDecodeError as err:
        raise PromptError(f"{path}: not valid JSON: {err}") from None
    templates = data.get("templates") if isinstance(data, dict) else None
    if not isinstance(templates, dict) or not templates:
        raise PromptError(f"{path}: expected an object with a non-empty 'templates' object")
    for name, template in templates.items():
        for part in ("prompt", "negative_prompt"):
            if not isinstance(template, dict) or not isinstance(template.get(part), str):
                raise PromptError(f"{path}: template {name!r} needs a string {part!r}")
    return templates


def _fields(groups: dict[str, Mapping[str, str]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for prefix, values in groups.items():
        for key, value in values.items():
            if not isinstance(value, str):
                raise PromptError(f"field {prefix}_{key} must be a string, got {type(value).__name__}")
            fields[f"{prefix}_{key}"] = value
    return fields


def _format(text: str, fields: dict[str, str], *, template_name: str, part: str) -> str:
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise PromptError(f"template {template_name!r} {part}: use plain named fields, not {{{name}...}}")
        if name not in fields:
            raise PromptError(f"template {template_name!r} {part} needs field {name!r}, which was not given")
    return " ".join(text.format(**fields).split())


def render_prompt(
    template_name: str,
    product: Mapping[str, str],
    brand: Mapping[str, str],
    scene_hint: Mapping[str, str],
    *,
    templates_path: Path = DEFAULT_TEMPLATES,
) -> RenderedPrompt:
    """(prompt, negative_prompt, template_id) for one product, brand and per-locale scene hint."""
    templates = load_templates(templates_path)
    if template_name not in templates:
        raise PromptError(f"unknown prompt template {template_name!r}; known: {sorted(templates)}")
    template = templates[template_name]
    fields = _fields({"product": product, "brand": brand, "scene": scene_hint})
    prompt = _format(template["prompt"], fields, template_name=template_name, part="prompt")
    negative = _format(template["negative_prompt"], fields, template_name=template_name, part="negative_prompt")
    digest = sha256_text(canonical_json({"prompt": template["prompt"], "negative_prompt": template["negative_prompt"]}))
    return RenderedPrompt(prompt, negative, f"{Path(templates_path).stem}/{template_name}@sha256:{digest}")


def product_prompt(template_name: str, product, brand, *, templates_path: Path = DEFAULT_TEMPLATES) -> RenderedPrompt:
    """The locale-neutral prompt of a product's base clip, from catalog records and the file's defaults."""
    data = json.loads(Path(templates_path).read_text(encoding="utf-8"))
    defaults = data.get("base_clip_defaults", {})
    product_fields = {"title": product.title, "description": product.description.rstrip(". "), "category": product.category}
    brand_fields = {**defaults.get("brand", {}), "name": brand.name,
                    "colors": f"{brand.primary_color}, {brand.secondary_color}"}
    return render_prompt(template_name, product_fields, brand_fields, defaults.get("scene", {}),
                         templates_path=templates_path)
