"""Login sessions of the browser workspace, kept in the server's memory only.

A session is a random token in an HttpOnly, SameSite=Strict cookie; it ends when the reviewer logs
out, after IDLE of inactivity, LIFETIME after login, or when the server stops. Each session has its
own CSRF token, which every state-changing form carries and the server compares in constant time.
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

__all__ = ["Session", "Sessions"]


@dataclass
class Session:
    user: str
    csrf: str
    started: float
    seen: float
    flash: list[str] = field(default_factory=list)    # messages for the next page this session sees

    def csrf_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode("utf-8"), self.csrf.encode("utf-8"))


class Sessions:
    def __init__(self, *, idle_s: float = 30 * 60, lifetime_s: float = 8 * 3600,
                 clock=time.monotonic) -> None:
        self.idle_s, self.lifetime_s, self._clock = idle_s, lifetime_s, clock
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, user: str) -> tuple[str, Session]:
        now = self._clock()
        token = secrets.token_urlsafe(32)
        session = Session(user=user, csrf=secrets.token_urlsafe(32), started=now, seen=now)
        with self._lock:
            self._by_token[token] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session of `token`, its idle clock reset; None (and forgotten) once expired."""
        if not token:
            return None
        now = self._clock()
        with self._lock:
            session = self._by_token.get(token)
            if session is None:
                return None
            if now - session.seen > self.idle_s or now - session.started > self.lifetime_s:
                del self._by_token[token]
                return None
            session.seen = now
            return session

    def end(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)
