"""Running the browser workspace: on loopback by default; beyond it only with TLS."""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

from pipeline.workspace import Workspace
from ui.accounts import Users
from ui.app import create_app
from ui.sessions import Sessions

__all__ = ["BindError", "check_bind", "serve"]


class BindError(ValueError):
    """A host, port or TLS setting the server refuses to start with."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False            # a host name other than localhost may resolve to anything


def check_bind(host: str, tls_cert: Path | None, tls_key: Path | None) -> None:
    """Refuse a non-loopback host without both TLS files (passwords and session cookies would cross the
    network in the clear), and half a TLS setting anywhere."""
    if (tls_cert is None) != (tls_key is None):
        raise BindError("TLS needs both --tls-cert and --tls-key")
    for path in (tls_cert, tls_key):
        if path is not None and not Path(path).is_file():
            raise BindError(f"{path}: no such file")
    if not is_loopback(host) and tls_cert is None:
        raise BindError(f"--host {host} is not a loopback address: serving reviewers beyond this machine needs "
                        f"TLS (--tls-cert PEM --tls-key PEM)")


def serve(ws: Workspace, *, host: str, port: int, tls_cert: Path | None = None, tls_key: Path | None = None,
          idle_minutes: int = 30, announce: Callable[[str], None] = print) -> None:
    """Serve the workspace until interrupted (BindError before anything listens); `announce` is told the
    address once every check has passed."""
    import uvicorn

    check_bind(host, tls_cert, tls_key)
    users = Users(ws.home)
    if not users.names():
        raise BindError(f"no reviewer accounts in {users.path}: add one with `tessera ui users add NAME`")
    app = create_app(ws, users, sessions=Sessions(idle_s=idle_minutes * 60), secure_cookies=tls_cert is not None)
    announce(f"Tessera review workspace on {'https' if tls_cert else 'http'}://{host}:{port}/ (Ctrl+C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False,
                ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None)
