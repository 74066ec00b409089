"""Reviewer accounts (scrypt, per-account salt, in the home), expiring sessions, and where the server may bind."""
import json
import stat

import click
import pytest
from click.testing import CliRunner

from flows.cli import cli
from ui import BindError, UserError, Users, check_bind
from ui.sessions import Sessions


def test_an_account_keeps_a_salted_scrypt_key_never_the_password(tmp_path):
    users = Users(tmp_path)
    users.add("Mei Chen", "correct horse battery")
    users.add("Ana Ruiz", "correct horse battery")
    doc = json.loads(users.path.read_text())
    mei, ana = doc["users"]["Mei Chen"], doc["users"]["Ana Ruiz"]
    assert mei["kdf"] == "scrypt" and mei["n"] >= 2 ** 14
    assert mei["salt"] != ana["salt"] and mei["key"] != ana["key"]       # same password, different salts
    assert "correct horse" not in users.path.read_text()
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    assert users.check("Mei Chen", "correct horse battery")
    assert not users.check("Mei Chen", "correct horse batterY")
    assert not users.check("Nobody", "correct horse battery")


def test_bad_accounts_are_refused_with_the_reason(tmp_path):
    users = Users(tmp_path)
    with pytest.raises(UserError, match="shorter than 10"):
        users.add("Mei", "short")
    users.add("Mei", "long enough password")
    with pytest.raises(UserError, match="exists already"):
        users.add("Mei", "another long password")
    with pytest.raises(UserError, match="printable"):
        users.add(" Mei", "long enough password")
    with pytest.raises(UserError, match="no account"):
        users.remove("Ana")
    assert [a.name for a in users.names()] == ["Mei"]


def test_users_add_reads_the_password_from_stdin_and_list_shows_no_secret(tmp_path):
    home = str(tmp_path)
    added = CliRunner().invoke(cli, ["ui", "users", "add", "Mei Chen", "--home", home], input="long enough password\n")
    assert added.exit_code == 0 and "added reviewer Mei Chen" in added.output
    short = CliRunner().invoke(cli, ["ui", "users", "add", "Ana", "--home", home], input="short\n")
    assert short.exit_code == 1 and "shorter than 10" in short.output and "Traceback" not in short.output
    listed = CliRunner().invoke(cli, ["ui", "users", "list", "--home", home])
    assert "Mei Chen" in listed.output and "1 reviewer accounts" in listed.output and "key" not in listed.output
    assert Users(tmp_path).check("Mei Chen", "long enough password")


def test_sessions_expire_when_idle_and_after_their_lifetime():
    now = [1000.0]
    sessions = Sessions(idle_s=60, lifetime_s=300, clock=lambda: now[0])
    token, session = sessions.start("Mei")
    now[0] += 59
    assert sessions.get(token) is session                 # each request resets the idle clock
    now[0] += 59
    assert sessions.get(token) is session
    now[0] += 61
    assert sessions.get(token) is None and sessions.get(token) is None
    token, session = sessions.start("Mei")
    for _ in range(7):
        now[0] += 50
        alive = sessions.get(token)
    assert alive is None                                  # over 300 s after login, however active
    token, session = sessions.start("Mei")
    assert session.csrf_ok(session.csrf) and not session.csrf_ok("forged") and not session.csrf_ok(None)
    sessions.end(token)
    assert sessions.get(token) is None


def test_the_server_binds_beyond_loopback_only_with_tls(tmp_path):
    check_bind("127.0.0.1", None, None)
    check_bind("::1", None, None)
    check_bind("localhost", None, None)
    for host in ("0.0.0.0", "192.168.1.5", "review.example.com", "::"):
        with pytest.raises(BindError, match="TLS"):
            check_bind(host, None, None)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x"), key.write_text("x")
    check_bind("0.0.0.0", cert, key)
    with pytest.raises(BindError, match="both"):
        check_bind("127.0.0.1", cert, None)
    refused = CliRunner().invoke(cli, ["ui", "--host", "0.0.0.0", "--home", str(tmp_path)])
    assert refused.exit_code == 2 and "--tls-cert" in refused.output and "Traceback" not in refused.output


def test_candidates_go_up_to_100_on_every_rendering_command():
    found = {name: (p.type.min, p.type.max) for name, command in cli.commands.items()
             for p in command.params if p.name == "candidates"}
    assert set(found) >= {"render", "serve", "deploy", "nightly"} and set(found.values()) == {(1, 100)}
    assert isinstance(cli.commands["ui"], click.Group)
