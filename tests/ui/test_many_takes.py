"""--candidates 40: forty takes rendered, a contact sheet one can open, forty playable previews in the grid."""
import pytest
from PIL import Image

from workspace_server import LiveServer, log_in
from flow_catalogs import small_catalog
from flows.start import run_render
from generation.plan import RenderOptions
from pipeline.settings import Settings
from pipeline.takes import candidate_sets
from pipeline.workspace import Workspace
from ui import Users, create_app

TAKES = 40


@pytest.mark.slow
def test_forty_takes_render_and_all_play_in_the_grid(tmp_path, prefect_harness, page):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    settings = Settings.build(home=tmp_path / "home",
                              options=RenderOptions(short_side=288, candidates=TAKES, require_review=True))
    summary = run_render(catalog, tmp_path / "out", settings, progress=lambda _: None)
    assert summary.awaiting_pick == 1
    ws = Workspace(settings)
    (takes,) = candidate_sets(ws)
    assert len(takes.takes) == TAKES and len(list((takes.folder / "previews").glob("*.mp4"))) == TAKES
    with Image.open(takes.sheet) as sheet:     # two columns of twenty rows, not one strip of forty
        assert sheet.width < 2 * sheet.height and sheet.height < 20 * 200
    Users(settings.home).add("Ana Ruiz", "a long enough password")
    with LiveServer(create_app(ws, Users(settings.home))) as server:
        log_in(page, server.url, "Ana Ruiz", "a long enough password")
        page.goto(f"{server.url}/takes/{takes.set_id}")
        assert page.locator("#takes .take video").count() == TAKES
        decoded = page.locator("#takes .take video").evaluate_all(
            "async vs => { await Promise.all(vs.map(v => new Promise((ok, bad) => {"
            " v.addEventListener('loadeddata', ok); v.addEventListener('error', bad); v.preload = 'auto'; v.load(); })));"
            " return vs.filter(v => v.readyState >= 2 && v.videoWidth > 0 && !v.error).length; }")
        assert decoded == TAKES
        assert page.problems == []
