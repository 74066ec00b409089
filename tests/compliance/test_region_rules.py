"""Region rules as data: the shipped profiles, selection by date and content, languages, validation errors."""
import json
import shutil
from datetime import date

import pytest

from compliance.rules import (
    CN_AIGC_FIELDS,
    DEFAULT_RULES_DIR,
    ContentFacts,
    RuleFileError,
    applicable_rules,
    cn_aigc_metadata,
    known_profiles,
    load_profiles,
    visible_labels,
)

PLAIN_AI = ContentFacts(ai_generated=True, ai_modified=False, realistic_people=False, synthetic_performer=False, deepfake=False)
REALISTIC = ContentFacts(ai_generated=True, ai_modified=False, realistic_people=True, synthetic_performer=False, deepfake=False)
PERFORMER = ContentFacts(ai_generated=True, ai_modified=False, realistic_people=True, synthetic_performer=True, deepfake=False,
                         advertising=True)
# a photoreal AI product shot: no person, but a deep fake by EU AI Act Art. 3(60) (it resembles an existing object)
PRODUCT_AI = ContentFacts(ai_generated=True, ai_modified=False, realistic_people=False, synthetic_performer=False,
                          deepfake=True, photoreal_objects_or_scenes=True, advertising=True)
DEEPFAKE_GEN = ContentFacts(ai_generated=True, ai_modified=False, realistic_people=True, synthetic_performer=False, deepfake=True)
DEEPFAKE_MOD = ContentFacts(ai_generated=False, ai_modified=True, realistic_people=True, synthetic_performer=False, deepfake=True)
NOT_AI = ContentFacts(ai_generated=False, ai_modified=False, realistic_people=True, synthetic_performer=False, deepfake=False)


@pytest.fixture(scope="module")
def profiles():
    return load_profiles()


def _ids(profile, day, content):
    return [r.id for r in applicable_rules(profile, as_of=day, content=content)]


def test_shipped_profiles(profiles):
    assert known_profiles() == {"EU", "CN", "US-CA", "US-NY", "KR", "IN", "JP", "MX", "SA", "BASELINE"}
    for code in ("JP", "MX", "SA"):
        p = profiles[code]
        assert p.baseline and p.rules == ()
        assert "C2PA" in p.note and "IPTC" in p.note
    for code in ("EU", "CN", "US-CA", "US-NY", "KR", "IN"):
        assert not profiles[code].baseline
        for rule in profiles[code].rules:
            assert rule.sources and all(s.title and s.citation for s in rule.sources)


@pytest.mark.parametrize(
    "code, first_day, content",
    [
        ("EU", date(2026, 8, 2), PLAIN_AI),
        ("CN", date(2025, 9, 1), PLAIN_AI),
        ("US-CA", date(2026, 8, 2), PLAIN_AI),
        ("US-NY", date(2026, 6, 9), PERFORMER),
        ("KR", date(2026, 1, 22), PLAIN_AI),
        ("IN", date(2026, 2, 20), REALISTIC),
    ],
)
def test_rules_apply_from_their_effective_date(profiles, code, first_day, content):
    assert _ids(profiles[code], date.fromordinal(first_day.toordinal() - 1), content) == []
    assert _ids(profiles[code], first_day, content) != []


def test_cn_labels_every_ai_output_visibly_and_in_metadata(profiles):
    rules = applicable_rules(profiles["CN"], as_of=date(2025, 9, 1), content=PLAIN_AI)
    assert [r.id for r in rules] == ["cn-cac-explicit-video", "cn-cac-implicit-metadata"]
    (label,) = visible_labels(rules, "en-US")
    assert (label.text, label.min_duration_s, label.min_height_frac, label.at_start) == ("AI生成", 2.0, 0.05, True)
    (aigc,) = rules[1].machine_readable
    assert aigc.kind == "mp4_metadata_json" and aigc.key == "AIGC" and aigc.fields == CN_AIGC_FIELDS
    assert _ids(profiles["CN"], date(2025, 9, 1), NOT_AI) == []


def test_eu_marks_all_ai_output_and_labels_deepfakes_generated_or_modified(profiles):
    day = date(2026, 8, 2)
    eu = profiles["EU"]
    assert _ids(eu, day, PLAIN_AI) == ["eu-aia-art50-2-marking"]
    assert visible_labels(applicable_rules(eu, as_of=day, content=PLAIN_AI), "de") == ()
    (gen,) = visible_labels(applicable_rules(eu, as_of=day, content=DEEPFAKE_GEN), "de")
    (mod,) = visible_labels(applicable_rules(eu, as_of=day, content=DEEPFAKE_MOD), "fr")
    assert (gen.text, gen.position) == ("AI GENERATED", "top-right")
    assert (mod.text, mod.position) == ("AI MODIFIED", "top-right")
    kinds = {m.kind for r in applicable_rules(eu, as_of=day, content=PLAIN_AI) for m in r.machine_readable}
    assert kinds == {"c2pa_manifest", "watermark"}


def test_california_latent_disclosure_fields(profiles):
    (rule,) = applicable_rules(profiles["US-CA"], as_of=date(2026, 8, 2), content=PLAIN_AI)
    (latent,) = rule.machine_readable
    assert latent.kind == "c2pa_assertion"
    assert latent.fields == ("provider", "system_name", "system_version", "created_at", "unique_id")
    assert visible_labels([rule], "en") == ()


def test_new_york_applies_to_synthetic_performers_in_advertisements_only(profiles):
    ny = profiles["US-NY"]
    day = date(2026, 7, 1)
    assert _ids(ny, day, REALISTIC) == []
    (label,) = visible_labels(applicable_rules(ny, as_of=day, content=PERFORMER), "es-US")
    assert label.text == "INTÉRPRETE SINTÉTICO"  # primary subtag match
    (label,) = visible_labels(applicable_rules(ny, as_of=day, content=PERFORMER), "zh-Hans")
    assert label.text == "SYNTHETIC PERFORMER"  # the rule's default
    not_an_ad = ContentFacts(**{**PERFORMER.__dict__, "advertising": False})
    assert _ids(ny, day, not_an_ad) == [] and ny.rules[0].requires == ("advertising",)


def test_korea_marks_every_ai_output_and_labels_realistic_ones(profiles):
    kr, day = profiles["KR"], date(2026, 3, 1)
    # Art. 31(2): every generative output is marked; an invisible mark suffices (no visible label)
    assert _ids(kr, day, PLAIN_AI) == ["kr-ai-basic-act-art31-2-marking"]
    assert visible_labels(applicable_rules(kr, as_of=day, content=PLAIN_AI), "ko-KR") == ()
    assert {m.kind for m in kr.rules[0].machine_readable} == {"c2pa_manifest", "watermark"}
    # Art. 31(3): realistic output, people or a photoreal product, is shown as AI output
    for content in (REALISTIC, PRODUCT_AI):
        rules = applicable_rules(kr, as_of=day, content=content)
        assert [r.id for r in rules] == ["kr-ai-basic-act-art31-2-marking", "kr-ai-basic-act-art31-3-realistic"]
        assert [x.text for x in visible_labels(rules, "ko-KR")] == ["AI 생성"]
    assert _ids(kr, day, NOT_AI) == []


def test_india_labels_realistic_synthetic_content_for_the_whole_duration_with_a_unique_id(profiles):
    ind, day = profiles["IN"], date(2026, 3, 1)
    assert _ids(ind, day, PLAIN_AI) == []
    for content in (REALISTIC, PRODUCT_AI):
        rules = applicable_rules(ind, as_of=day, content=content)
        assert [r.id for r in rules] == ["in-gsr-120e-sgi-label", "in-gsr-120e-sgi-metadata"]
        (label,) = visible_labels(rules, "hi-IN")
        assert (label.text, label.whole_duration, label.at_start) == ("एआई जनित", True, True)
        assert visible_labels(rules, "en")[0].text == "AI GENERATED"
    fields = {f for m in ind.rules[1].machine_readable for f in m.fields}
    assert "unique_id" in fields and {m.kind for m in ind.rules[1].machine_readable} >= {"c2pa_assertion", "watermark"}
    assert "G.S.R. 120(E)" in ind.rules[0].sources[0].title and ind.rules[0].effective_from == date(2026, 2, 20)


def test_eu_discloses_a_photoreal_ai_product_video_and_an_ai_modified_photo(profiles):
    eu, day = profiles["EU"], date(2026, 9, 1)
    (label,) = visible_labels(applicable_rules(eu, as_of=day, content=PRODUCT_AI), "de-DE")
    assert (label.text, label.at_start) == ("AI GENERATED", True)
    modified = ContentFacts(**{**PRODUCT_AI.__dict__, "ai_generated": False, "ai_modified": True})
    assert [x.text for x in visible_labels(applicable_rules(eu, as_of=day, content=modified), "de-DE")] == ["AI MODIFIED"]


def test_every_rule_says_when_it_applies(profiles):
    for p in profiles.values():
        for rule in p.rules:
            assert len(rule.applicability) > 40, rule.id


def test_baseline_profiles_have_nothing_to_apply(profiles):
    assert _ids(profiles["JP"], date(2027, 1, 1), DEEPFAKE_GEN) == []


def test_effective_until_ends_a_rule(tmp_path):
    rules_dir = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules_dir)
    doc = json.loads((rules_dir / "CN.json").read_text())
    doc["rules"][0]["effective_until"] = "2026-12-31"
    (rules_dir / "CN.json").write_text(json.dumps(doc))
    cn = load_profiles(rules_dir)["CN"]
    assert "cn-cac-explicit-video" in _ids(cn, date(2026, 12, 31), PLAIN_AI)
    assert "cn-cac-explicit-video" not in _ids(cn, date(2027, 1, 1), PLAIN_AI)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["rules"][0].update(applies_to="everyone"), r"CN\.json: rules\[0\]\.applies_to: 'everyone' is not one of"),
        (lambda d: d["rules"][1].update(effective_from="1 Sept 2025"), r"CN\.json: rules\[1\]\.effective_from: expected a date"),
        (lambda d: d["rules"][0]["visible_label"].update(text={"zh": "AI生成"}), r"rules\[0\]\.visible_label\.text: .*\"default\""),
        (lambda d: d["rules"][0]["visible_label"].update(position="middle"), r"rules\[0\]\.visible_label\.position: 'middle'"),
        (lambda d: d["rules"][0]["visible_label"].update(min_height_frac="5%"), r"visible_label\.min_height_frac: expected a number"),
        (lambda d: d["rules"][0].update(sources=[]), r"rules\[0\]\.sources: expected a non-empty list"),
        (lambda d: d["rules"][0].update(effective_untill="2027-01-01"), r"rules\[0\]\.effective_untill: unknown field"),
        (lambda d: d["rules"][1]["machine_readable"][0].pop("key"), r"machine_readable\[0\]\.key: mp4_metadata_json needs a key"),
        (lambda d: d.update(profile="China"), r"CN\.json: profile: 'China' does not match the file name 'CN'"),
        (lambda d: d.update(rules=[]), r"CN\.json: rules: empty"),
    ],
)
def test_malformed_rule_names_the_file_and_field(tmp_path, edit, message):
    rules_dir = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules_dir)
    doc = json.loads((rules_dir / "CN.json").read_text())
    edit(doc)
    (rules_dir / "CN.json").write_text(json.dumps(doc, ensure_ascii=False))
    with pytest.raises(RuleFileError, match=message):
        load_profiles(rules_dir)


def test_unreadable_json_and_empty_folder(tmp_path):
    with pytest.raises(RuleFileError, match="no rule files"):
        load_profiles(tmp_path)
    (tmp_path / "EU.json").write_text("{ not json")
    with pytest.raises(RuleFileError, match=r"EU\.json: not readable JSON"):
        load_profiles(tmp_path)


def test_content_facts_are_consistent():
    with pytest.raises(ValueError, match="deepfake=True needs ai_generated or ai_modified"):
        ContentFacts(ai_generated=False, ai_modified=False, realistic_people=True, synthetic_performer=False, deepfake=True)
    with pytest.raises(TypeError, match="realistic_people"):
        ContentFacts(ai_generated=True, ai_modified=False, realistic_people="yes", synthetic_performer=False, deepfake=False)


def test_cn_aigc_metadata_is_one_json_object_in_the_standard_field_order():
    text = cn_aigc_metadata(content_producer="上海某某科技有限公司", produce_id="asset-1", propagate_id="", content_propagator="")
    obj = json.loads(text)
    assert list(obj) == list(CN_AIGC_FIELDS)
    assert obj["Label"] == "1" and obj["ContentProducer"] == "上海某某科技有限公司"
    assert "上海" in text  # kept as UTF-8, not \\u escapes
    with pytest.raises(ValueError, match="produce_id"):
        cn_aigc_metadata(content_producer="acme", produce_id=" ")
    with pytest.raises(ValueError, match="label must be"):
        cn_aigc_metadata(content_producer="acme", produce_id="a", label="4")


@pytest.mark.parametrize("source_type, conditioned_on, flags", [
    ("trainedAlgorithmicMedia", None, (True, False)),                 # text-to-video
    ("trainedAlgorithmicMedia", "digitalCapture", (False, True)),     # i2v from a captured photo: AI-modified
    ("compositeWithTrainedAlgorithmicMedia", "digitalCapture", (False, True)),
    ("trainedAlgorithmicMedia", "trainedAlgorithmicMedia", (True, False)),   # i2v from an AI-made image
    ("digitalCapture", None, (False, False)),                         # a camera move over a captured photo
    ("algorithmicMedia", None, (False, False)),                       # procedural, no trained model
    (None, None, (False, False)),                                     # unknown: no claim
])
def test_ai_flags_tell_generated_from_modified(source_type, conditioned_on, flags):
    from compliance.decide import ai_flags

    assert ai_flags(source_type, conditioned_on=conditioned_on) == flags
