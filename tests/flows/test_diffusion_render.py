"""The diffusion backend through the whole render: a tiny real Wan model built from config, on CPU."""
import json
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.task_runners import ThreadPoolTaskRunner

from compliance import audit_paths
from flow_catalogs import small_catalog
from flows.gpu import GpuLimitMissing, ensure_gpu_limit, gpu_limit_name, gpu_slot
from flows.render import render_catalog, run_render
from pipeline.settings import Settings
from generation.diffusion import DiffusionSettings
from generation.plan import RenderOptions
from provenance import load_credentials
from provenance.ledger import Ledger
from foundation.frames import duration_s
from foundation.primitives import sha256_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generation"))
from tiny_models import build_tiny_wan_i2v, build_tiny_wan_t2v  # noqa: E402

TINY = dict(dtype="float32", device="cpu", num_inference_steps=2, width=32, height=32, num_frames=17, fps=8, size=288)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return build_tiny_wan_i2v(tmp_path_factory.mktemp("diffusion-model") / "tiny-wan-i2v")


def _first_render(root: Path, model: Path):
    catalog = small_catalog(root / "catalog", locales=("de-DE", "zh-CN"), aspects="1:1", products=2)
    options = RenderOptions(short_side=288, backend="diffusers",
                            diffusion=DiffusionSettings(model=str(model), task="i2v", **TINY))
    settings = Settings.build(home=root / "home", options=options)
    first = run_render(catalog, root / "out", settings)
    return root, catalog, settings, first


@pytest.fixture(scope="module")
def setup(tmp_path_factory, model):
    """Shared by the tests that leave its catalog, output folder and clip cache as they found them."""
    return _first_render(tmp_path_factory.mktemp("diffusion-render"), model)


@pytest.fixture
def setup_own(tmp_path, model):
    """A first render of this test's own (same tiny model): for a test that changes the catalog."""
    return _first_render(tmp_path, model)


def _clips(settings: Settings) -> dict[str, float]:
    return {p.name: p.stat().st_mtime for p in settings.clip_cache.glob("*.mp4")}


@pytest.mark.slow
def test_render_through_the_diffusion_backend_is_signed_as_ai_media_with_the_model(setup):
    root, _, settings, first = setup
    assert (first.rendered, first.failed) == (4, 0), [o.reason for o in first.outcomes]
    assert len(_clips(settings)) == 2                      # one base clip per product, shared by its locales
    # As long as the catalog says (duration_s 2: 16 frames at 8 fps), not the 17 frames the model makes.
    for sidecar in settings.clip_cache.glob("*.json"):
        assert json.loads(json.loads(sidecar.read_text())["params_json"])["duration"] == {
            "generated_frames": 17, "frames": 16, "method": "cut"}
    assert {round(duration_s(p), 2) for p in (root / "out").rglob("*.mp4")} == {2.0}
    led = Ledger(settings.ledger_url)
    records = audit_paths([root / "out"], anchors_pem=load_credentials(settings.signing).anchors_pem,
                          lookup=led.asset_id_for_sha256)
    assert [r.to_dict()["verdict"] for r in records] == ["pass"] * 4
    for record in records:
        d = record.to_dict()
        assert d["digital_source_type"].endswith("/trainedAlgorithmicMedia")
        manifest = json.loads(led.manifest_json(d["asset_id"]))
        active = manifest["manifests"][manifest["active_manifest"]]
        models = [i for i in active["ingredients"] if i.get("relationship") == "inputTo"
                  and any(t["type"].startswith("c2pa.types.model") for t in i.get("data_types", []))]
        assert models and models[0]["data_types"][0]["version"].startswith("sha256:")
        # named as what it is (pipeline class + content hash), never by the folder it was loaded from
        assert models[0]["title"].startswith("WanImageToVideoPipeline (local model folder sha256:")
        assert str(root) not in json.dumps(active)


def _photo_ingredients(led: Ledger, asset_id: str) -> list[dict]:
    manifest = json.loads(led.manifest_json(asset_id))
    active = manifest["manifests"][manifest["active_manifest"]]
    return [i for i in active["ingredients"] if not any(t["type"].startswith("c2pa.types.model")
                                                       for t in i.get("data_types", []))]


def test_an_image_to_video_variant_has_the_photo_as_its_input(setup):
    root, catalog, settings, _ = setup
    led = Ledger(settings.ledger_url)
    photos = set(pd.read_csv(catalog / "products.csv", dtype=str)["photo"].map(lambda p: Path(p).name))
    for f in sorted((root / "out").rglob("*.mp4")):
        ingredients = _photo_ingredients(led, led.asset_id_for_sha256(sha256_file(f)))
        assert [(i["relationship"], i["title"] in photos) for i in ingredients] == [("inputTo", True)]


def test_a_text_to_video_variant_has_no_photo_ingredient(tmp_path):
    model = build_tiny_wan_t2v(tmp_path / "tiny-wan-t2v")
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    options = RenderOptions(short_side=288, backend="diffusers",
                            diffusion=DiffusionSettings(model=str(model), task="t2v", **TINY))
    settings = Settings.build(home=tmp_path / "home", options=options)
    lines: list[str] = []
    summary = run_render(catalog, tmp_path / "out", settings, progress=lines.append)
    assert (summary.rendered, summary.failed) == (1, 0), [o.reason for o in summary.outcomes]
    # the generation's steps are part of the run's progress (TINY: 2 steps, one take)
    assert [line for line in lines if "generating" in line] == [
        "ESP-BLEND-1KG: generating take 1/1: step 1/2", "ESP-BLEND-1KG: generating take 1/1: step 2/2"], lines
    led = Ledger(settings.ledger_url)
    (f,) = sorted((tmp_path / "out").rglob("*.mp4"))
    asset_id = led.asset_id_for_sha256(sha256_file(f))
    assert _photo_ingredients(led, asset_id) == []
    manifest = json.loads(led.manifest_json(asset_id))
    actions = [a for assertion in manifest["manifests"][manifest["active_manifest"]]["assertions"]
               if assertion["label"].startswith("c2pa.actions") for a in assertion["data"]["actions"]]
    assert actions[0]["action"] == "c2pa.created"
    assert actions[0]["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert actions[0]["parameters"]["task"] == "t2v" and actions[0]["parameters"]["image_sha256"] is None
    assert not any(a["action"] == "c2pa.opened" for a in actions)
    # The authorship report excludes the generated footage and lists no photo: none was an input.
    from compliance.authorship import authorship_report
    from pipeline.workspace import Workspace
    report = json.loads(authorship_report(Workspace(settings).journal, asset_id, fmt="json"))
    excluded = {x["segment"]: x["why"] for x in report["exclude_from_claim"]["material"]}
    assert "trainedAlgorithmicMedia" in excluded["footage"]
    assert [m["material"] for m in report["third_party_material"]["material"]] == []


@pytest.mark.slow
def test_re_render_generates_nothing_and_a_new_locale_only_composes(setup_own):
    root, catalog, settings, _ = setup_own
    clips = _clips(settings)
    lines: list[str] = []
    again = run_render(catalog, root / "out", settings, progress=lines.append)
    assert (again.rendered, again.skipped) == (0, 4)
    assert not [line for line in lines if "generating" in line], lines
    # Add a locale: its variants are composed from the cached base clips, no generation.
    sample = Path(__file__).resolve().parents[2] / "catalogs" / "sample"
    loc = pd.read_csv(catalog / "locales.csv", dtype=str, keep_default_na=False)
    new = pd.read_csv(sample / "locales.csv", dtype=str, keep_default_na=False).query("tag == 'ja-JP'").assign(aspect_ratios="1:1")
    pd.concat([loc, new]).to_csv(catalog / "locales.csv", index=False)
    copy = pd.read_csv(catalog / "copy.csv", dtype=str, keep_default_na=False)
    skus = set(copy["sku"])
    all_copy = pd.read_csv(sample / "copy.csv", dtype=str, keep_default_na=False)
    pd.concat([copy, all_copy[(all_copy["locale"] == "ja-JP") & all_copy["sku"].isin(skus)]]).to_csv(catalog / "copy.csv", index=False)
    added = run_render(catalog, root / "out", settings)
    assert (added.rendered, added.skipped, added.failed) == (2, 4, 0)
    assert {o.locale for o in added.outcomes if o.status == "rendered"} == {"ja-JP"}
    assert _clips(settings) == clips                      # same files, untouched: nothing was generated


@pytest.mark.slow
def test_a_missing_gpu_limit_fails_the_run_before_any_work(setup, tmp_path):
    _, catalog, settings, _ = setup
    with get_client(sync_client=True) as client:
        client.delete_global_concurrency_limit_by_name(gpu_limit_name())
    try:
        with pytest.raises(GpuLimitMissing, match=gpu_limit_name()):
            render_catalog(catalog, tmp_path / "out", settings)
        assert not (tmp_path / "out").exists()
    finally:
        ensure_gpu_limit(1)


@pytest.mark.slow
def test_two_generation_jobs_on_one_host_never_overlap():
    ensure_gpu_limit(1)
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def slow_device_call() -> None:          # stands in for the GPU: the limit is what is under test
        time.sleep(1.0)

    @task
    def generate() -> None:
        with gpu_slot():
            start = time.monotonic()
            slow_device_call()
            with lock:
                spans.append((start, time.monotonic()))

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def two_jobs() -> None:
        for f in [generate.submit(), generate.submit()]:
            f.result()

    two_jobs()
    (a0, a1), (b0, b1) = sorted(spans)
    assert a1 <= b0, f"GPU jobs overlapped: {spans}"
