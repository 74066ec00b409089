"""The browser workspace: reviewers pick among a product's takes and decide on held variants.

A FastAPI app over the same core as `tessera review ...`: takes are listed, picked and rejected
through pipeline.takes, held variants listed and decided through pipeline.review, so the journal
events, hold reports and publications are the ones the CLI makes. The decision's actor is the
logged-in account's name.

Security: every page but the login needs a live session (ui.sessions); every POST carries the
session's CSRF token (the login form a token of its own, bound to a cookie), and a POST without
both is refused with 403 before anything is read or decided. Pages load nothing from elsewhere
(Content-Security-Policy 'self'), cannot be framed, and escape every value (Jinja2 autoescape);
text from catalogs and reports is shown with dir="auto" so right-to-left copy reads in its direction.
"""
from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader
from starlette.concurrency import run_in_threadpool

from compliance import ReviewError
from foundation.frames import ClipError
from foundation.primitives import pipeline_version
from pipeline.review import Approved, HeldVariant, decide_held, held_variants
from pipeline.takes import TakeError, TakeSet, candidate_sets, pick_take, reject_take, take_preview, take_set
from pipeline.workspace import Workspace
from provenance import CredentialError
from ui.accounts import Users
from ui.sessions import Session, Sessions

__all__ = ["create_app"]

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "tessera_session"
LOGIN_COOKIE = "tessera_login"
MAX_FORM_BYTES = 256 * 1024
_SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'; "
                                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class LoginFirst(Exception):
    """A page asked for without a live session: the browser is sent to the login page."""


class Refused(Exception):
    """A request the workspace turns down before it reads or changes anything."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


def create_app(ws: Workspace, users: Users, *, sessions: Sessions | None = None, secure_cookies: bool = False) -> FastAPI:
    """The app for one home. secure_cookies: the server speaks TLS (cookies get the Secure flag)."""
    sessions = sessions or Sessions()
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True)
    decide_lock = threading.Lock()      # one decision at a time: the journal and hold reports change together
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(LoginFirst)
    async def login_first(request: Request, exc: LoginFirst):
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused):
        return Response(exc.text + "\n", status_code=exc.status, media_type="text/plain; charset=utf-8")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def page(name: str, session: Session | None, status: int = 200, **values: Any) -> HTMLResponse:
        flash = list(session.flash) if session else []
        if session:
            session.flash.clear()
        html = env.get_template(name).render(user=session.user if session else None,
                                             csrf=session.csrf if session else "", flash=flash,
                                             version=pipeline_version(), **values)
        return HTMLResponse(html, status_code=status)

    def current(request: Request) -> Session | None:
        """The request's live session; a session of an account removed since it logged in has ended."""
        token = request.cookies.get(SESSION_COOKIE)
        session = sessions.get(token)
        if session is not None and not users.exists(session.user):
            sessions.end(token)
            return None
        return session

    def viewer(request: Request) -> Session:
        session = current(request)
        if session is None:
            raise LoginFirst()
        return session

    async def decider(request: Request) -> tuple[Session, dict[str, list[str]]]:
        """The session and form of a state-changing request; Refused (403) without a session or with a
        CSRF token other than the session's."""
        session = current(request)
        if session is None:
            raise Refused(403, "refused: no live session (log in again)")
        form = await _form(request)
        if not session.csrf_ok(_one(form, "csrf")):
            raise Refused(403, "refused: the form's CSRF token does not match this session")
        return session, form

    # ------------------------------------------------------------------------------ login and logout

    @app.get("/login")
    def login_page(request: Request):
        token = secrets.token_urlsafe(32)
        response = page("login.html", None, login_csrf=token, error=request.query_params.get("error"))
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies,
                            path="/login")
        return response

    @app.post("/login")
    async def login(request: Request):
        form = await _form(request)
        cookie, given = request.cookies.get(LOGIN_COOKIE), _one(form, "csrf")
        if not cookie or not given or not secrets.compare_digest(cookie.encode(), given.encode()):
            raise Refused(403, "refused: the login form's CSRF token does not match (reload the login page)")
        name, password = _one(form, "name") or "", _one(form, "password") or ""
        if not await run_in_threadpool(users.check, name, password):      # scrypt: off the event loop
            return RedirectResponse("/login?error=1", status_code=303)
        token, _ = sessions.start(name)
        response = RedirectResponse("/takes", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies,
                            max_age=int(sessions.lifetime_s))
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @app.post("/logout")
    async def logout(request: Request):
        await decider(request)
        sessions.end(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/")
    def home(request: Request):
        viewer(request)
        return RedirectResponse("/takes", status_code=303)

    @app.get("/static/{name}")
    def static(name: str):
        if name not in ("ui.css", "ui.js"):
            return Response("not found\n", status_code=404, media_type="text/plain")
        return FileResponse(HERE / "static" / name, media_type="text/css" if name.endswith(".css")
                            else "text/javascript")

    # ------------------------------------------------------------------------------ takes

    @app.get("/takes")
    def takes_index(request: Request):
        session = viewer(request)
        return page("takes_index.html", session, sets=candidate_sets(ws))

    @app.get("/takes/{set_id}")
    def takes_grid(request: Request, set_id: str):
        session = viewer(request)
        takes = _take_set(set_id)
        rejected = _rejected(takes)
        return page("takes.html", session, takes=takes, rows=[_take_row(t) for t in takes.takes], rejected=rejected)

    @app.get("/takes/{set_id}/compare")
    def compare(request: Request, set_id: str, a: int, b: int):
        session = viewer(request)
        takes = _take_set(set_id)
        try:
            pair = [_take_row(takes.take(a)), _take_row(takes.take(b))]
        except TakeError as exc:
            raise Refused(404, str(exc)) from None
        return page("compare.html", session, takes=takes, pair=pair)

    @app.get("/takes/{set_id}/{candidate}/{kind}")
    def take_media(request: Request, set_id: str, candidate: int, kind: str):
        if current(request) is None:
            raise Refused(403, "refused: log in first")
        if kind not in ("preview.mp4", "poster.jpg", "full.mp4"):
            return Response("not found\n", status_code=404, media_type="text/plain")
        takes = _take_set(set_id)
        try:
            with decide_lock:           # a missing preview is encoded once, not by every concurrent request
                preview = take_preview(ws, takes, candidate, full_size=kind == "full.mp4")
        except (TakeError, ClipError) as exc:
            return Response(f"{exc}\n", status_code=404, media_type="text/plain")
        if kind == "poster.jpg":
            return FileResponse(preview.poster, media_type="image/jpeg")
        return FileResponse(preview.video, media_type="video/mp4")

    @app.post("/takes/{set_id}/decide")
    async def decide_take(request: Request, set_id: str):
        session, form = await decider(request)
        action, reason = _one(form, "action"), (_one(form, "reason") or "").strip()
        try:
            candidate = int(_one(form, "candidate") or "")
        except ValueError:
            raise Refused(400, "refused: no take named (candidate)") from None
        if action not in ("pick", "reject"):
            raise Refused(400, f"refused: unknown action {action!r} (pick or reject)")

        def record() -> None:
            with decide_lock:
                if action == "pick":
                    pick_take(ws, set_id, candidate, by=session.user, reason=reason)
                    session.flash.append(f"picked take {candidate}; render again to use it")
                else:
                    reject_take(ws, set_id, candidate, by=session.user, reason=reason)
                    session.flash.append(f"rejected take {candidate}")

        try:
            await run_in_threadpool(record)
        except TakeError as exc:
            session.flash.append(f"not recorded: {exc}")
        return RedirectResponse(f"/takes/{set_id}#take-{candidate}", status_code=303)

    def _take_set(set_id: str) -> TakeSet:
        try:
            return take_set(ws, set_id)
        except TakeError as exc:
            raise Refused(404, str(exc)) from None

    def _rejected(takes: TakeSet) -> dict[int, str]:
        """Takes a person turned down with a reason since the last pick: candidate -> "by NAME: reason"."""
        after = takes.picked.source_seq if takes.picked else 0
        return {int(e.detail["candidate"]): f"{e.actor}: {e.detail['reason']}"
                for e in ws.journal.events(variant_key=f"set:{takes.set_id}")
                if e.action == "candidate_rejected" and e.detail.get("reason") and e.seq > (after or 0)}

    # ------------------------------------------------------------------------------ held variants

    @app.get("/variants")
    def variants(request: Request, sku: str = "", locale: str = "", aspect: str = "", reason: str = ""):
        session = viewer(request)
        try:
            every = held_variants(ws)
            shown = held_variants(ws, sku=sku, locale=locale, aspect=aspect, reason=reason)
        except ReviewError as exc:
            return Response(f"{exc}\n", status_code=500, media_type="text/plain")
        choices = {"sku": sorted({h.sku for h in every if h.sku}), "locale": sorted({h.locale for h in every if h.locale}),
                   "aspect": sorted({h.aspect for h in every if h.aspect})}
        query = urlencode({k: v for k, v in (("sku", sku), ("locale", locale), ("aspect", aspect),
                                             ("reason", reason)) if v})
        return page("variants.html", session, held=[_held_row(h, ws) for h in shown], total=len(every), choices=choices,
                    filters={"sku": sku, "locale": locale, "aspect": aspect, "reason": reason}, query=query,
                    reasons=sorted({r for h in every for r in h.reasons}))

    @app.get("/variants/{asset_id}/video.mp4")
    def held_video(request: Request, asset_id: str):
        if current(request) is None:
            raise Refused(403, "refused: log in first")
        found = next((h for h in held_variants(ws) if h.asset_id == asset_id), None)
        if found is None or not found.item.media.is_file():
            return Response(f"no variant {asset_id!r} is waiting for review\n", status_code=404,
                            media_type="text/plain")
        return FileResponse(found.item.media, media_type="video/mp4")

    @app.post("/variants/decide")
    async def decide_variants(request: Request):
        session, form = await decider(request)
        action, reason = _one(form, "action") or "", (_one(form, "reason") or "").strip()
        assets = form.get("asset", [])
        def decide() -> list:
            with decide_lock:           # signing and publishing take seconds: off the event loop
                return decide_held(ws, action, assets, by=session.user, reason=reason)

        try:
            decided = await run_in_threadpool(decide)
        except (ReviewError, CredentialError) as exc:
            session.flash.append(f"nothing decided: {exc}")
        else:
            for d in decided:
                if d.done is None:
                    session.flash.append(f"{d.asset_id}: {d.error}")
                else:
                    verb = "approved and published" if isinstance(d.done, Approved) else "rejected and quarantined"
                    session.flash.append(f"{d.asset_id}: {verb}")
        back = _one(form, "back") or ""
        return RedirectResponse("/variants" + (f"?{back}" if back and "/" not in back else ""), status_code=303)

    return app


def _take_row(take: dict[str, Any]) -> dict[str, Any]:
    """A take as its card shows it: number, seed, backend, and every parameter as text."""
    params = take.get("params") or {}
    flat = {k: v for k, v in sorted(params.items()) if k not in ("backend", "seed")}
    return {"n": int(take["take"]), "seed": params.get("seed", "unknown"), "backend": take.get("backend", ""),
            "params": flat}


def _held_row(h: HeldVariant, ws: Workspace) -> dict[str, Any]:
    """A held variant as its card shows it: what it is, why it waits, its copy as the journal records it,
    the visible labels its rules asked for and the gate's check of each on the encoded file."""
    report = h.item.report
    decision = report.get("decision") or {}
    copy: dict[str, str] = {}
    for e in ws.journal.events(asset_id=h.asset_id):
        if e.action == "copy_written":
            copy[str(e.detail["segment"]).removeprefix("copy:")] = str(e.detail["text"])
        elif e.action == "edit_applied" and "after" in e.detail:
            copy[str(e.detail["segment"]).removeprefix("copy:")] = str(e.detail["after"])
    return {"asset_id": h.asset_id, "sku": h.sku, "locale": h.locale, "aspect": h.aspect, "reasons": h.reasons,
            "held_at": h.item.held_at, "verdict": report.get("verdict", ""), "profile": decision.get("region_profile", ""),
            "rules": decision.get("rules_applied") or [], "labels": decision.get("labels") or [],
            "label_checks": report.get("labels") or {}, "checks": report.get("checks") or [], "texts": copy}


async def _form(request: Request) -> dict[str, list[str]]:
    """An application/x-www-form-urlencoded body (what the pages' forms send), at most MAX_FORM_BYTES."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Refused(415, "refused: forms are sent as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Refused(413, "refused: form too large")
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise Refused(400, "refused: the form is not UTF-8") from None


def _one(form: dict[str, list[str]], key: str) -> str | None:
    values = form.get(key)
    return values[0] if values else None
