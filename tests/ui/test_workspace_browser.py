"""The review workspace in a real browser: a reviewer logs in, plays a take, picks one with the keyboard,
approves held variants several at once; the journal, the published files and the audit agree."""
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from compliance.record import human_pick
from workspace_server import LiveServer, log_in
from flow_catalogs import small_catalog
from flows.cli import cli
from flows.start import run_render
from generation.plan import RenderOptions
from pipeline.home import open_home
from pipeline.settings import Settings
from pipeline.takes import candidate_sets
from pipeline.workspace import Workspace
from ui import Users, create_app

REVIEWER, PASSWORD = "Mei Chen", "correct horse battery staple"
SAMPLE_LOCALES = ("en-US", "de-DE", "es-MX", "ja-JP", "zh-CN", "ar-SA")
# Set to a folder (docs/img) to keep the screenshots the test takes of the pages and the report.
SHOTS = os.environ.get("TESSERA_SCREENSHOTS")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, prefect_harness):
    """Eight takes of one product for every sample locale (1:1), under --require-review: awaiting a pick."""
    root = tmp_path_factory.mktemp("workspace")
    catalog = small_catalog(root / "catalog", locales=SAMPLE_LOCALES, aspects="1:1")
    settings = Settings.build(home=root / "home",
                              options=RenderOptions(short_side=288, candidates=8, require_review=True))
    first = run_render(catalog, root / "out", settings, progress=lambda _: None)
    assert first.awaiting_pick == len(SAMPLE_LOCALES)
    Users(settings.home).add(REVIEWER, PASSWORD)
    return root, catalog, settings


def _unchanged_state(ws: Workspace, root: Path) -> tuple:
    """What a decision would change: the journal, the held files and reports, the published files."""
    held = sorted((p.name, p.read_bytes()) for p in ws.review_dir.iterdir())
    return len(ws.journal.events()), held, sorted(root.joinpath("out").rglob("*.mp4"))


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / name), full_page=True)


@pytest.mark.slow
def test_a_reviewer_plays_picks_take_3_of_8_by_keyboard_and_approves_4_variants_at_once(rendered, page, browser):
    root, catalog, settings = rendered
    ws = Workspace(settings)
    (takes,) = candidate_sets(ws)
    with LiveServer(create_app(ws, Users(settings.home))) as server:
        # 1. Log in; the takes grid shows all eight, each with its seed.
        log_in(page, server.url, REVIEWER, PASSWORD)
        page.goto(f"{server.url}/takes/{takes.set_id}")
        assert page.locator("#takes .take").count() == 8
        assert page.locator("#take-3 .seed").inner_text() == "seed 3"

        # 2. Play the focused take (Space), then pause it.
        page.keyboard.press(" ")
        page.wait_for_function("() => { const v = document.querySelector('#take-0 video');"
                               " return !v.paused && v.readyState >= 2 && v.currentTime > 0.3; }", timeout=20000)
        page.keyboard.press(" ")
        _shot(page, "ui-takes.png")

        # 3. Take 3 of 8, by keyboard: three times next, p, a reason, Enter.
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        page.keyboard.press("p")
        page.keyboard.type("steadiest pour")
        picked_from = datetime.now(timezone.utc)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        picked_until = datetime.now(timezone.utc)
        assert "Picked: take 3 by Mei Chen" in page.inner_text("#pick-state")
        pick = human_pick(ws.journal, takes.set_id)
        assert (pick.candidate, pick.actor, pick.actor_kind, pick.reason) == (3, REVIEWER, "human", "steadiest pour")
        assert picked_from <= pick.at <= picked_until

        # 4. The next render holds every variant for approval.
        second = run_render(catalog, root / "out", settings, progress=lambda _: None)
        assert second.review == len(SAMPLE_LOCALES)
        page.goto(f"{server.url}/variants")
        assert page.locator("article.variant").count() == len(SAMPLE_LOCALES)

        # 5. Without a session, or with another CSRF token, a decision is refused and changes nothing.
        held_ids = sorted(h.stem for h in ws.review_dir.glob("*.mp4"))
        before = _unchanged_state(ws, root)
        stranger = browser.new_context()
        no_session = stranger.request.post(f"{server.url}/variants/decide", form={
            "csrf": "x", "action": "approve", "asset": held_ids[0]}, max_redirects=0)
        wrong_token = page.request.post(f"{server.url}/variants/decide", form={
            "csrf": "not-the-session-token", "action": "approve", "asset": held_ids[0]}, max_redirects=0)
        wrong_pick = page.request.post(f"{server.url}/takes/{takes.set_id}/decide", form={
            "csrf": "not-the-session-token", "action": "pick", "candidate": "5"}, max_redirects=0)
        assert (no_session.status, wrong_token.status, wrong_pick.status) == (403, 403, 403)
        assert "CSRF" in wrong_token.text() and "session" in no_session.text()
        stranger.close()
        assert _unchanged_state(ws, root) == before
        assert human_pick(ws.journal, takes.set_id).candidate == 3

        # 6. Every sample locale's card shows its copy; right-to-left copy reads right to left.
        headlines = pd.read_csv(catalog / "copy.csv", dtype=str).set_index("locale")["headline"]
        for locale in SAMPLE_LOCALES:
            card = page.locator(f"article.variant[lang='{locale}']")
            assert card.locator("dl.copy dd").first.inner_text() == headlines[locale]
        direction = "e => getComputedStyle(e).direction"
        assert page.locator("article.variant[lang='ar-SA'] dl.copy dd").first.evaluate(direction) == "rtl"
        assert page.locator("article.variant[lang='de-DE'] dl.copy dd").first.evaluate(direction) == "ltr"
        page.locator("article.variant[lang='ar-SA'] video").evaluate("v => v.play()")
        page.wait_for_function("() => document.querySelector(\"article.variant[lang='ar-SA'] video\").currentTime > 0.2")
        _shot(page, "ui-variants.png")

        # 7. Filter by locale, then approve four at once with a reason.
        page.goto(f"{server.url}/variants?locale=ar-SA")
        assert page.locator("article.variant").count() == 1
        page.goto(f"{server.url}/variants")
        chosen = ["ar-SA", "zh-CN", "de-DE", "ja-JP"]
        ids = {}
        for locale in chosen:
            card = page.locator(f"article.variant[lang='{locale}']")
            ids[locale] = card.get_attribute("id")
            card.locator("input[name=asset]").check()
        page.fill("form.bulk input[name=reason]", "copy and labels checked")
        approved_from = datetime.now(timezone.utc)
        with page.expect_navigation():
            page.click("form.bulk button[value=approve]")
        approved_until = datetime.now(timezone.utc)
        flashes = page.locator(".flash").all_inner_texts()
        assert sorted(flashes) == sorted(f"{ids[loc]}: approved and published" for loc in chosen)
        assert page.locator("article.variant").count() == len(SAMPLE_LOCALES) - 4
        assert page.problems == []

    # 8. The journal has the four approvals under the reviewer at the time they were made, each published.
    for asset in ids.values():
        events = ws.journal.events(asset_id=asset)
        (approval,) = [e for e in events if e.action == "approval"]
        assert (approval.actor, approval.actor_kind) == (REVIEWER, "human")
        assert approval.detail["reason"] == "copy and labels checked"
        assert approved_from <= approval.at <= approved_until
        (publication,) = [e for e in events if e.action == "publication"]
        assert publication.detail["approved_by"] == REVIEWER

    # 9. The published files audit pass, and the audit's HTML report opens without console errors.
    published = sorted(str(p) for p in (root / "out").rglob("*.mp4"))
    assert len(published) == 4
    report = root / "audit.html"
    audit = subprocess.run([sys.executable, "-m", "flows.cli", "audit", "--json", "--home", str(settings.home),
                            "--report", str(report), *published], capture_output=True, text=True)
    assert audit.returncode == 0, audit.stderr
    assert [r["verdict"] for r in json.loads(audit.stdout)] == ["pass"] * 4
    report_page = browser.new_page()
    errors = []
    report_page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    report_page.on("pageerror", lambda e: errors.append(str(e)))
    report_page.goto(report.as_uri())
    assert report_page.locator("section.file").count() == 4
    assert report_page.locator("section.file img").evaluate_all("imgs => imgs.every(i => i.naturalWidth > 0)")
    if SHOTS:
        report_page.screenshot(path=str(Path(SHOTS) / "audit-report.png"), full_page=False)
    report_page.close()
    assert errors == []


@pytest.mark.slow
def test_compare_two_takes_full_size_reject_one_and_nothing_is_served_without_a_session(rendered, page, browser):
    _, _, settings = rendered
    ws = Workspace(settings)
    (takes,) = candidate_sets(ws)
    with LiveServer(create_app(ws, Users(settings.home))) as server:
        stranger = browser.new_context().request
        assert stranger.get(f"{server.url}/takes/{takes.set_id}/1/preview.mp4").status == 403
        assert stranger.get(f"{server.url}/takes/{takes.set_id}", max_redirects=0).status == 303
        log_in(page, server.url, REVIEWER, "wrong password")
        assert "Wrong name or password" in page.inner_text("main")
        log_in(page, server.url, REVIEWER, PASSWORD)
        page.goto(f"{server.url}/takes/{takes.set_id}")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("c")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        with page.expect_navigation():
            page.keyboard.press("c")
        assert "take 1 and take 3, full size" in page.inner_text("h1")
        sizes = page.locator(".pair video").evaluate_all(
            "async vs => { await Promise.all(vs.map(v => v.readyState >= 1 ? null : new Promise("
            "ok => v.addEventListener('loadedmetadata', ok)))); return vs.map(v => [v.videoWidth, v.videoHeight]); }")
        assert sizes == [[288, 288], [288, 288]]     # the clips' own size, not the 240 px preview

        # Reject take 6 with a reason, by keyboard: the card says who turned it down and why.
        page.goto(f"{server.url}/takes/{takes.set_id}#take-6")
        page.keyboard.press("x")
        page.keyboard.type("label flickers")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "rejected by Mei Chen: label flickers" in page.inner_text("#take-6")
        rejected = [e for e in ws.journal.events(variant_key=f"set:{takes.set_id}")
                    if e.action == "candidate_rejected" and e.detail.get("reason") == "label flickers"]
        assert [(e.actor, e.detail["candidate"]) for e in rejected] == [(REVIEWER, 6)]
        assert page.problems == []


@pytest.mark.slow
def test_the_audit_report_of_external_files_opens_without_console_errors(browser, tmp_path):
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "c2pa-external"
    files = sorted(str(p) for p in fixtures.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".mp4", ".mov", ".avi"))
    report = tmp_path / "audit.html"
    open_home(tmp_path / "home", create=True)
    audit = CliRunner().invoke(cli, ["audit", "--home", str(tmp_path / "home"), "--report", str(report), *files])
    assert audit.exit_code == 1 and report.is_file(), audit.output     # some of them are forged on purpose
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report.as_uri())
    assert page.locator("section.file").count() == len(files)
    assert page.locator("section.file img").evaluate_all("imgs => imgs.every(i => i.naturalWidth > 0)")
    page.close()
    assert errors == []
