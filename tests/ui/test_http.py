"""The workspace's HTTP rules, through the real app in process: logins, removed accounts, headers, form types."""
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from fastapi.testclient import TestClient

from pipeline.home import open_home
from pipeline.settings import Settings
from pipeline.workspace import Workspace
from ui import Users, create_app


def _client(tmp_path) -> tuple[TestClient, Users]:
    open_home(tmp_path / "home", create=True)
    users = Users(tmp_path / "home")
    users.add("Mei Chen", "long enough password")
    return TestClient(create_app(Workspace(Settings.build(home=tmp_path / "home")), users)), users


def _log_in(client: TestClient, password: str = "long enough password"):
    form = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    return client.post("/login", data={"csrf": token, "name": "Mei Chen", "password": password},
                       follow_redirects=False)


def test_login_needs_its_form_token_and_the_right_password(tmp_path):
    client, _ = _client(tmp_path)
    assert client.get("/takes", follow_redirects=False).headers["location"] == "/login"
    forged = client.post("/login", data={"csrf": "guess", "name": "Mei Chen", "password": "long enough password"},
                         follow_redirects=False)
    assert forged.status_code == 403 and "tessera_session" not in client.cookies
    wrong = _log_in(client, "not the password")
    assert wrong.headers["location"] == "/login?error=1" and "tessera_session" not in client.cookies
    ok = _log_in(client)
    assert ok.headers["location"] == "/takes"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/takes")
    assert page.status_code == 200 and "Mei Chen" in page.text
    headers = page.headers
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_a_removed_account_loses_its_session_and_forms_must_be_forms(tmp_path):
    client, users = _client(tmp_path)
    _log_in(client)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/takes").text).group(1)
    as_json = client.post("/variants/decide", json={"csrf": csrf, "action": "approve", "asset": ["x"]})
    assert as_json.status_code == 415
    users.remove("Mei Chen")
    assert client.get("/takes", follow_redirects=False).headers["location"] == "/login"
    refused = client.post("/variants/decide", data={"csrf": csrf, "action": "approve", "asset": "x"})
    assert refused.status_code == 403


@pytest.mark.slow
def test_tessera_ui_serves_on_loopback_and_refuses_a_home_without_accounts(tmp_path):
    open_home(tmp_path / "home", create=True)
    env = {**os.environ, "TESSERA_HOME": str(tmp_path / "home")}
    empty = subprocess.run([sys.executable, "-m", "flows.cli", "ui"], capture_output=True, text=True, env=env)
    assert empty.returncode == 2 and "tessera ui users add" in empty.stderr and "Traceback" not in empty.stderr
    Users(tmp_path / "home").add("Mei Chen", "long enough password")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "flows.cli", "ui", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert f"http://127.0.0.1:{port}/" in server.stdout.readline()
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:
                    assert response.status == 200 and "tessera_login" in response.headers["set-cookie"]
                    break
            except OSError:
                assert time.monotonic() < deadline, "tessera ui did not answer"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
