"""The workspace's HTTP rules, through the real app in process: logins, removed accounts, headers, form types."""
import re

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
