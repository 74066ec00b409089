"""Region label rules, kept as data in compliance/rules/<PROFILE>.json.

Each profile file lists rules with their legal source and effective dates; code here
only validates the files and selects the rules in force for a render date and a
piece of content. Numbers the law does not give (house values) are said so in the
rule's note.

Profiles come from the package's folder plus the user's rules folders (the home's `rules/`,
`--rules-dir`), all with the same schema; a profile code defined twice is an error naming
both files. A market may name several profiles ("US-CA;US-NY", see combined_profile): all
of them apply, and where two ask for the same visible label the stricter one holds.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence, get_args

DEFAULT_RULES_DIR = Path(__file__).with_name("rules")
# A locale's rule_profile may list several profiles, separated by this.
PROFILE_SEPARATOR = ";"

AppliesTo = Literal["any_ai", "realistic_people_or_scenes", "synthetic_performer", "deepfake"]
Origin = Literal["any", "generated", "modified"]
Position = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
# Facts of a variant a rule may also require (`requires`), besides what `applies_to` says.
Fact = Literal["ai_generated", "ai_modified", "photoreal_people", "photoreal_objects_or_scenes",
               "synthetic_performer", "advertising", "deepfake"]
MachineReadableKind = Literal["c2pa_manifest", "c2pa_assertion", "mp4_metadata_json", "watermark"]

# GB 45438-2025 implicit label: the fields of the one JSON object under the `AIGC` key.
CN_AIGC_FIELDS = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)


class RuleFileError(ValueError):
    """A rules file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class LegalSource:
    title: str
    citation: str


@dataclass(frozen=True)
class LabelSpec:
    """A visible label as the rule gives it: text per language plus a default."""

    texts: tuple[tuple[str, str], ...]  # (language, text), "default" included
    position: Position
    min_duration_s: float
    min_height_frac: float  # ink height of the text / short side of the frame
    at_start: bool
    whole_duration: bool = False  # shown on every frame to the end (verified over the whole clip)

    def text_for(self, language: str) -> str:
        """Text for a BCP 47 tag: exact tag, then its primary subtag, then the default."""
        by_lang = dict(self.texts)
        tag = language.strip()
        for key in (tag, tag.split("-")[0].lower()):
            if key in by_lang:
                return by_lang[key]
        return by_lang["default"]


@dataclass(frozen=True)
class MachineReadable:
    kind: MachineReadableKind
    key: str | None
    fields: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Rule:
    id: str
    profile: str
    sources: tuple[LegalSource, ...]
    effective_from: date
    effective_until: date | None  # last day in force; None: open-ended
    applies_to: AppliesTo
    origin: Origin  # "generated": wholly AI generated; "modified": real footage altered by AI
    visible_label: LabelSpec | None
    machine_readable: tuple[MachineReadable, ...]
    note: str
    applicability: str = ""         # when it applies, in words (the law's wording, summarised)
    requires: tuple[Fact, ...] = ()  # facts that must also hold (e.g. "advertising")

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_until is None or on <= self.effective_until)


@dataclass(frozen=True)
class Profile:
    code: str
    name: str
    baseline: bool  # True: no AI-specific rules, only the house baseline (C2PA + IPTC source type)
    note: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class ContentFacts:
    """What a variant is; decides which rules apply. The gate derives it (compliance.decide): AI from the
    backend and the inputs' provenance, people from the likeness check, scenes from the backend."""

    ai_generated: bool  # wholly made by a generative model
    ai_modified: bool  # a real capture (photo or footage) altered by a generative model
    realistic_people: bool  # photoreal people: a face detected with a confident score
    synthetic_performer: bool  # a realistic AI-made person who is no real individual
    deepfake: bool  # AI content resembling existing persons, objects, places, entities or events
    photoreal_objects_or_scenes: bool = False  # photoreal objects, places or scenes (a product shot)
    advertising: bool = False  # the content is an advertisement (every Tessera variant is one)

    def __post_init__(self) -> None:
        for name in ("ai_generated", "ai_modified", "realistic_people", "synthetic_performer", "deepfake",
                     "photoreal_objects_or_scenes", "advertising"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"ContentFacts.{name} must be a bool, got {getattr(self, name)!r}")
        is_ai = self.ai_generated or self.ai_modified
        for name in ("synthetic_performer", "deepfake"):
            if getattr(self, name) and not is_ai:
                raise ValueError(f"ContentFacts.{name}=True needs ai_generated or ai_modified")

    @property
    def photoreal_people(self) -> bool:
        return self.realistic_people

    def holds(self, fact: str) -> bool:
        return bool(getattr(self, fact))


@dataclass(frozen=True)
class LabelRequirement:
    """A visible label to burn in and verify, resolved to one language."""

    rule_id: str
    profile: str
    language: str
    text: str
    position: Position
    min_duration_s: float
    min_height_frac: float
    at_start: bool
    whole_duration: bool = False


# ---------------------------------------------------------------- loading


def load_profiles(rules_dirs: Path | Sequence[Path] = DEFAULT_RULES_DIR) -> dict[str, Profile]:
    """Read and validate every <PROFILE>.json in rules_dirs (one folder or several: the package's, then
    the user's); keyed by profile code. RuleFileError names the file and field of the first fault."""
    dirs = rules_dir_tuple(rules_dirs)
    profiles: dict[str, Profile] = {}
    seen: dict[str, Path] = {}
    for rules_dir in dirs:
        if not rules_dir.is_dir():
            raise RuleFileError(f"{rules_dir}: rules folder not found")
        files = sorted(rules_dir.glob("*.json"))
        if not files:
            raise RuleFileError(f"{rules_dir}: no rule files (*.json)")
        for path in files:
            profile = _parse_profile(path)
            if profile.code in seen:
                raise RuleFileError(f"{path}: profile: {profile.code!r} is already defined by {seen[profile.code]}; "
                                    f"give your profile its own code")
            seen[profile.code] = path
            profiles[profile.code] = profile
    return profiles


def rules_dir_tuple(rules_dirs: Path | Sequence[Path]) -> tuple[Path, ...]:
    """One folder or several, as a tuple of paths (what caches and settings keep)."""
    if isinstance(rules_dirs, (str, Path)):
        return (Path(rules_dirs),)
    return tuple(Path(d) for d in rules_dirs)


def known_profiles(rules_dirs: Path | Sequence[Path] = DEFAULT_RULES_DIR) -> frozenset[str]:
    return frozenset(load_profiles(rules_dirs))


def split_profiles(profile_ids: str) -> tuple[str, ...]:
    """"US-CA;US-NY" -> ("US-CA", "US-NY"): stripped, in order, each once."""
    out: list[str] = []
    for code in profile_ids.split(PROFILE_SEPARATOR):
        code = code.strip()
        if code and code not in out:
            out.append(code)
    return tuple(out)


def combined_profile(profiles: Sequence[Profile]) -> Profile:
    """Several profiles that all apply to one market, as one: every rule of each (a rule keeps its own
    profile), baseline only if all are. One profile is returned as it is."""
    if len(profiles) == 1:
        return profiles[0]
    if not profiles:
        raise ValueError("combined_profile needs at least one profile")
    return Profile(code=PROFILE_SEPARATOR.join(p.code for p in profiles),
                   name=" + ".join(p.name for p in profiles),
                   baseline=all(p.baseline for p in profiles),
                   note=" ".join(f"{p.code}: {p.note}" for p in profiles),
                   rules=tuple(r for p in profiles for r in p.rules))


def _parse_profile(path: Path) -> Profile:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RuleFileError(f"{path}: not readable JSON: {exc}") from exc
    where = _Where(str(path))
    _require_dict(doc, where)
    _no_unknown(doc, {"profile", "name", "baseline", "note", "rules"}, where)
    code = _str(doc, "profile", where)
    if code != path.stem:
        raise RuleFileError(f"{path}: profile: {code!r} does not match the file name {path.stem!r}")
    if PROFILE_SEPARATOR in code or not code.strip() == code:
        raise RuleFileError(f"{path}: profile: {code!r} may not contain {PROFILE_SEPARATOR!r} or spaces")
    baseline = doc.get("baseline", False)
    if not isinstance(baseline, bool):
        raise RuleFileError(f"{where.at('baseline')}: expected true/false, got {baseline!r}")
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, list):
        raise RuleFileError(f"{where.at('rules')}: expected a list, got {raw_rules!r}")
    rules = tuple(_parse_rule(r, code, where.sub(f"rules[{i}]")) for i, r in enumerate(raw_rules))
    if baseline and rules:
        raise RuleFileError(f"{where.at('rules')}: a baseline profile has no rules")
    if not baseline and not rules:
        raise RuleFileError(f"{where.at('rules')}: empty; mark the profile \"baseline\": true if that is meant")
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise RuleFileError(f"{where.at('rules')}: duplicate rule ids {dupes}")
    return Profile(code=code, name=_str(doc, "name", where), baseline=baseline, note=_str(doc, "note", where), rules=rules)


def _parse_rule(raw: Any, profile: str, where: "_Where") -> Rule:
    _require_dict(raw, where)
    _no_unknown(
        raw,
        {"id", "sources", "effective_from", "effective_until", "applies_to", "origin", "visible_label", "machine_readable",
         "note", "applicability", "requires"},
        where,
    )
    sources_raw = raw.get("sources")
    if not isinstance(sources_raw, list) or not sources_raw:
        raise RuleFileError(f"{where.at('sources')}: expected a non-empty list, got {sources_raw!r}")
    sources = []
    for i, s in enumerate(sources_raw):
        w = where.sub(f"sources[{i}]")
        _require_dict(s, w)
        _no_unknown(s, {"title", "citation"}, w)
        sources.append(LegalSource(title=_str(s, "title", w), citation=_str(s, "citation", w)))
    effective_from = _date(raw, "effective_from", where)
    effective_until = _date(raw, "effective_until", where) if raw.get("effective_until") is not None else None
    if effective_until is not None and effective_until < effective_from:
        raise RuleFileError(f"{where.at('effective_until')}: {effective_until} is before effective_from {effective_from}")
    applies_to = _choice(raw, "applies_to", get_args(AppliesTo), where)
    origin = _choice(raw, "origin", get_args(Origin), where, default="any")
    label = _parse_label(raw["visible_label"], where.sub("visible_label")) if "visible_label" in raw else None
    mr_raw = raw.get("machine_readable", [])
    if not isinstance(mr_raw, list):
        raise RuleFileError(f"{where.at('machine_readable')}: expected a list, got {mr_raw!r}")
    machine = tuple(_parse_machine(m, where.sub(f"machine_readable[{i}]")) for i, m in enumerate(mr_raw))
    if label is None and not machine:
        raise RuleFileError(f"{where}: a rule needs visible_label and/or machine_readable")
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise RuleFileError(f"{where.at('note')}: expected a string, got {note!r}")
    applicability = _str(raw, "applicability", where)   # when the rule applies, in words: required
    requires = raw.get("requires", [])
    if not isinstance(requires, list):
        raise RuleFileError(f"{where.at('requires')}: expected a list of facts, got {requires!r}")
    for i, fact in enumerate(requires):
        if fact not in get_args(Fact):
            raise RuleFileError(f"{where.at(f'requires[{i}]')}: {fact!r} is not one of {', '.join(get_args(Fact))}")
    return Rule(
        id=_str(raw, "id", where),
        profile=profile,
        sources=tuple(sources),
        effective_from=effective_from,
        effective_until=effective_until,
        applies_to=applies_to,
        origin=origin,
        visible_label=label,
        machine_readable=machine,
        note=note,
        applicability=applicability,
        requires=tuple(requires),
    )


def _parse_label(raw: Any, where: "_Where") -> LabelSpec:
    _require_dict(raw, where)
    _no_unknown(raw, {"text", "position", "min_duration_s", "min_height_frac", "at_start", "whole_duration"}, where)
    text = raw.get("text")
    if not isinstance(text, dict) or "default" not in text:
        raise RuleFileError(f"{where.at('text')}: expected an object with a \"default\" text, got {text!r}")
    for lang, value in text.items():
        if not isinstance(value, str) or not value.strip():
            raise RuleFileError(f"{where.at('text.' + lang)}: expected a non-empty string, got {value!r}")
    min_duration_s = _number(raw, "min_duration_s", where)
    min_height_frac = _number(raw, "min_height_frac", where)
    if not 0 <= min_duration_s <= 60:
        raise RuleFileError(f"{where.at('min_duration_s')}: {min_duration_s} is outside 0..60 s")
    if not 0 < min_height_frac < 0.5:
        raise RuleFileError(f"{where.at('min_height_frac')}: {min_height_frac} is outside (0, 0.5)")
    at_start = raw.get("at_start")
    if not isinstance(at_start, bool):
        raise RuleFileError(f"{where.at('at_start')}: expected true/false, got {at_start!r}")
    whole = raw.get("whole_duration", False)
    if not isinstance(whole, bool):
        raise RuleFileError(f"{where.at('whole_duration')}: expected true/false, got {whole!r}")
    if whole and not at_start:
        raise RuleFileError(f"{where.at('whole_duration')}: a label shown for the whole duration starts at the start")
    return LabelSpec(
        texts=tuple(sorted(text.items())),
        position=_choice(raw, "position", get_args(Position), where),
        min_duration_s=min_duration_s,
        min_height_frac=min_height_frac,
        at_start=at_start,
        whole_duration=whole,
    )


def _parse_machine(raw: Any, where: "_Where") -> MachineReadable:
    _require_dict(raw, where)
    _no_unknown(raw, {"kind", "key", "fields", "note"}, where)
    kind = _choice(raw, "kind", get_args(MachineReadableKind), where)
    key = raw.get("key")
    if kind == "mp4_metadata_json" and (not isinstance(key, str) or not key):
        raise RuleFileError(f"{where.at('key')}: mp4_metadata_json needs a key, got {key!r}")
    fields = raw.get("fields", [])
    if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
        raise RuleFileError(f"{where.at('fields')}: expected a list of names, got {fields!r}")
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise RuleFileError(f"{where.at('note')}: expected a string, got {note!r}")
    return MachineReadable(kind=kind, key=key, fields=tuple(fields), note=note)


class _Where:
    """Path of a field inside a rules file, for error messages: 'EU.json: rules[1].visible_label'."""

    def __init__(self, file: str, path: str = "") -> None:
        self.file, self.path = file, path

    def sub(self, name: str) -> "_Where":
        return _Where(self.file, f"{self.path}.{name}" if self.path else name)

    def at(self, name: str) -> str:
        return str(self.sub(name))

    def __str__(self) -> str:
        return f"{self.file}: {self.path}" if self.path else self.file


def _require_dict(raw: Any, where: _Where) -> None:
    if not isinstance(raw, dict):
        raise RuleFileError(f"{where}: expected an object, got {type(raw).__name__}")


def _no_unknown(raw: dict, allowed: set[str], where: _Where) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise RuleFileError(f"{where.at(unknown[0])}: unknown field (allowed: {', '.join(sorted(allowed))})")


def _str(raw: dict, key: str, where: _Where) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RuleFileError(f"{where.at(key)}: expected a non-empty string, got {value!r}")
    return value


def _number(raw: dict, key: str, where: _Where) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RuleFileError(f"{where.at(key)}: expected a number, got {value!r}")
    return float(value)


def _date(raw: dict, key: str, where: _Where) -> date:
    value = raw.get(key)
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise RuleFileError(f"{where.at(key)}: expected a date YYYY-MM-DD, got {value!r}") from None


def _choice(raw: dict, key: str, allowed: tuple[str, ...], where: _Where, default: str | None = None) -> Any:
    value = raw.get(key, default)
    if value not in allowed:
        raise RuleFileError(f"{where.at(key)}: {value!r} is not one of {', '.join(allowed)}")
    return value


# ---------------------------------------------------------------- selection


def applicable_rules(profile: Profile, *, as_of: date, content: ContentFacts) -> tuple[Rule, ...]:
    """Rules of `profile` in force on `as_of` that `content` triggers, in file order."""
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a Profile (see load_profiles), got {profile!r}")
    if not isinstance(content, ContentFacts):
        raise TypeError(f"content must be ContentFacts, got {content!r}")
    if not isinstance(as_of, date):
        raise TypeError(f"as_of must be a date, got {as_of!r}")
    return tuple(r for r in profile.rules if r.in_force(as_of) and _triggers(r, content))


def _triggers(rule: Rule, c: ContentFacts) -> bool:
    if not all(c.holds(f) for f in rule.requires):
        return False
    is_ai = c.ai_generated or c.ai_modified
    if rule.origin == "generated" and not c.ai_generated:
        return False
    # wholly generated content is labelled as generated, never also as "modified"
    if rule.origin == "modified" and not (c.ai_modified and not c.ai_generated):
        return False
    if rule.applies_to == "any_ai":
        return is_ai
    if rule.applies_to == "realistic_people_or_scenes":
        return is_ai and (c.realistic_people or c.photoreal_objects_or_scenes or c.synthetic_performer or c.deepfake)
    if rule.applies_to == "synthetic_performer":
        return c.synthetic_performer
    return c.deepfake  # "deepfake"


def visible_labels(rules: Iterable[Rule], language: str) -> tuple[LabelRequirement, ...]:
    """The visible labels `rules` require, with text in `language` (else the rule's default).

    Two rules (of one profile or of several a market names) asking for the same text get one label
    that meets both: the longer duration, the larger height, at the start if either asks for it. It
    keeps the first rule's id and position; different texts are all shown."""
    out: dict[str, LabelRequirement] = {}
    for r in rules:
        spec = r.visible_label
        if spec is None:
            continue
        req = LabelRequirement(
            rule_id=r.id,
            profile=r.profile,
            language=language,
            text=spec.text_for(language),
            position=spec.position,
            min_duration_s=spec.min_duration_s,
            min_height_frac=spec.min_height_frac,
            at_start=spec.at_start,
            whole_duration=spec.whole_duration,
        )
        first = out.get(req.text)
        out[req.text] = req if first is None else replace(
            first, min_duration_s=max(first.min_duration_s, req.min_duration_s),
            min_height_frac=max(first.min_height_frac, req.min_height_frac),
            at_start=first.at_start or req.at_start, whole_duration=first.whole_duration or req.whole_duration)
    return tuple(out.values())


def cn_aigc_metadata(
    *,
    content_producer: str,
    produce_id: str,
    content_propagator: str = "",
    propagate_id: str = "",
    label: Literal["1", "2", "3"] = "1",
    reserved_code1: str = "",
    reserved_code2: str = "",
) -> str:
    """The one JSON object for the MP4 `AIGC` key (GB 45438-2025 implicit label).

    label "1": AI-generated synthetic content ("2" possibly, "3" suspected, for propagators).
    Fields keep the standard's order; producer and content id are required.
    """
    if label not in ("1", "2", "3"):
        raise ValueError(f"label must be '1', '2' or '3', got {label!r}")
    for name, value in (("content_producer", content_producer), ("produce_id", produce_id)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    values = (label, content_producer, produce_id, reserved_code1, content_propagator, propagate_id, reserved_code2)
    for name, value in zip(CN_AIGC_FIELDS, values):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {value!r}")
    return json.dumps(dict(zip(CN_AIGC_FIELDS, values)), ensure_ascii=False, separators=(",", ":"))
