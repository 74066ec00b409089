"""The journal chains and signs every event, refuses bad ones, survives concurrent writers,
and names the event (or the head) when a copy of the ledger file is tampered with."""
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import create_engine, insert, text, update

from compliance.journal import (
    ACTIONS, GENESIS_HASH, Journal, JournalEvent, event_hash, head_message, journal_head_table, journal_table,
)
from provenance.credentials import load_credentials
from provenance.ledger import Ledger
from provenance.spec import Credentials, SigningConfig

N_EVENTS = 6


@pytest.fixture(scope="module")
def journal_creds(tmp_path_factory) -> Credentials:
    return load_credentials(SigningConfig(home=tmp_path_factory.mktemp("journal-home")))


@pytest.fixture
def ledger_file(tmp_path) -> Path:
    return tmp_path / "db" / "ledger.sqlite"


@pytest.fixture
def journal(ledger_file, journal_creds) -> Journal:
    return Journal.from_credentials(Ledger(f"sqlite:///{ledger_file}").engine, journal_creds)


def _event(action: str = "approval", actor: str = "ana@brand", kind: str = "human", **detail) -> JournalEvent:
    return JournalEvent(variant_key="vk-1", actor=actor, actor_kind=kind, action=action, asset_id="tsr-1",
                        inputs={"clip": "ab" * 32}, detail=detail)


@pytest.fixture
def recorded(journal, ledger_file) -> Path:
    """A ledger file holding N_EVENTS journal events."""
    for i in range(N_EVENTS):
        journal.append(_event(note=f"event {i + 1}"))
    return ledger_file


def _copy(src: Path, dst: Path) -> Path:
    # The backup API copies a consistent snapshot, WAL contents included.
    with sqlite3.connect(src) as s, sqlite3.connect(dst) as d:
        s.backup(d)
    s.close()
    d.close()
    return dst


def _tampered(recorded: Path, tmp_path: Path, journal_creds: Credentials, tamper) -> Journal:
    """Tamper with a copy of the ledger file through a plain engine, then open a Journal on it."""
    copy = _copy(recorded, tmp_path / "copy.sqlite")
    engine = create_engine(f"sqlite:///{copy}")
    with engine.begin() as conn:
        tamper(conn)
    engine.dispose()
    return Journal.from_credentials(Ledger(f"sqlite:///{copy}").engine, journal_creds)


def _rows(conn) -> dict[int, dict]:
    return {r["seq"]: dict(r) for r in conn.execute(journal_table.select()).mappings()}


def _forged(conn, seq: int, prev_hash: str) -> dict:
    """A well-formed event whose hash is right for its place: what a careful forger writes."""
    row = dict(_rows(conn)[1], seq=seq, event_id="forged", actor="mallory", prev_hash=prev_hash)
    row["hash"] = event_hash(row)
    return row


def _other_signer() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mallory")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM)


# recording ----------------------------------------------------------------------

def test_append_chains_events_and_signs_the_head(journal):
    first = journal.append(_event("brief_written", text="Summer launch"))
    second = journal.append(JournalEvent(variant_key="vk-2", actor="tessera.render", actor_kind="system",
                                         action="publication", detail={"where": "cdn"}))
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    assert first.at.tzinfo is not None and first.inputs == {"clip": "ab" * 32}
    assert journal.events() == [first, second]                  # read back exactly as recorded
    assert journal.events(variant_key="vk-2") == [second]
    assert journal.events(asset_id="tsr-1") == [first]
    head = journal.head()
    assert (head.seq, head.hash) == (2, second.hash)
    assert journal.verify().ok


@pytest.mark.parametrize("event, field", [
    (_event(actor=""), "actor"),
    (_event(actor="   "), "actor"),
    (_event(action="painted"), "action"),
    (_event(kind="robot"), "actor_kind"),
    (_event("candidate_picked", reason="sharp"), "candidate"),
    (JournalEvent(variant_key="", actor="ana", actor_kind="human", action="approval"), "variant_key"),
    (JournalEvent(variant_key="vk", actor="ana", actor_kind="human", action="approval",
                  at=datetime(2025, 1, 1)), "timezone"),
])
def test_refused_events_record_nothing(journal, event, field):
    with pytest.raises(ValueError, match=field):
        journal.append(event)
    assert journal.events() == []
    assert journal.head() is None
    assert journal.verify().ok


def test_every_listed_action_is_accepted(journal):
    details = {"prompt_authored": {"prompt": "p"}, "parameters_set": {"parameters": {}},
               "generation_run": {"model": "m", "model_version": "1", "candidate": "c1", "parameters": {}},
               "candidate_picked": {"candidate": "c1"}, "candidate_rejected": {"candidate": "c2"},
               "copy_written": {"segment": "copy:headline", "text": "Hi"}, "edit_applied": {"segment": "footage"},
               "input_recorded": {"role": "product photo", "file": "a.jpg", "origin": "unknown"},
               "ledger_sealed": {"rows": []},
               "withdrawal": {"reasons": ["consent expired on 2027-06-30"], "disposition": "quarantined"}}
    for action in ACTIONS:
        journal.append(_event(action, **details.get(action, {})))
    assert [e.action for e in journal.events()] == list(ACTIONS)


def test_key_that_does_not_match_the_certificate_is_refused(ledger_file, journal_creds):
    other_key, _ = _other_signer()
    pem = other_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    with pytest.raises(ValueError, match="does not match"):
        Journal(Ledger(f"sqlite:///{ledger_file}").engine, pem, journal_creds.cert_chain_pem)


def test_two_threads_appending_concurrently_lose_nothing(ledger_file, journal_creds):
    # Two engines on one file: as two processes would be.
    journals = [Journal.from_credentials(Ledger(f"sqlite:///{ledger_file}").engine, journal_creds) for _ in range(2)]
    per_thread = 100
    errors: list[BaseException] = []

    def writer(j: Journal, name: str) -> None:
        try:
            for i in range(per_thread):
                j.append(JournalEvent(variant_key=name, actor=name, actor_kind="system", action="generation_run",
                                      detail={"model": "m", "model_version": "1", "candidate": f"c{i}",
                                              "parameters": {"seed": i}}))
        except BaseException as exc:   # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(j, f"writer-{n}")) for n, j in enumerate(journals)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    events = journals[0].events()
    assert [e.seq for e in events] == list(range(1, 2 * per_thread + 1))
    for n in range(2):
        mine = [e.detail["candidate"] for e in events if e.actor == f"writer-{n}"]
        assert mine == [f"c{i}" for i in range(per_thread)]
    assert journals[1].head().seq == 2 * per_thread
    assert journals[0].verify().ok



def test_verify_during_concurrent_appends_never_reports_tampering(ledger_file, journal_creds):
    writer_journal, reader_journal = (Journal.from_credentials(Ledger(f"sqlite:///{ledger_file}").engine,
                                                               journal_creds) for _ in range(2))
    writer = threading.Thread(target=lambda: [writer_journal.append(_event(note=str(i))) for i in range(60)])
    writer.start()
    results = []
    while writer.is_alive():
        results.append(reader_journal.verify())
    writer.join()
    results.append(reader_journal.verify())
    assert [r for r in results if not r.ok] == []
    assert len(results) > 1 and reader_journal.head().seq == 60

# tampering (always on a copy of the ledger file) --------------------------------

def test_untouched_copy_verifies(recorded, tmp_path, journal_creds):
    result = _tampered(recorded, tmp_path, journal_creds, lambda conn: None).verify()
    assert (result.ok, result.first_bad_seq, result.problem) == (True, None, "")


def test_changed_field_names_the_event(recorded, tmp_path, journal_creds):
    j = _tampered(recorded, tmp_path, journal_creds,
                  lambda c: c.execute(update(journal_table).where(journal_table.c.seq == 3).values(actor="mallory")))
    result = j.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "altered" in result.problem


def test_changed_field_with_recomputed_hash_names_the_event(recorded, tmp_path, journal_creds):
    def tamper(conn):
        row = dict(_rows(conn)[3], detail_json='{"note":"rewritten"}')
        conn.execute(update(journal_table).where(journal_table.c.seq == 3).values(
            detail_json=row["detail_json"], hash=event_hash(row)))
    result = _tampered(recorded, tmp_path, journal_creds, tamper).verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "altered" in result.problem


@pytest.mark.parametrize("seq", [3, N_EVENTS])
def test_deleted_event_is_named(recorded, tmp_path, journal_creds, seq):
    j = _tampered(recorded, tmp_path, journal_creds,
                  lambda c: c.execute(journal_table.delete().where(journal_table.c.seq == seq)))
    result = j.verify()
    assert (result.ok, result.first_bad_seq) == (False, seq)
    assert "removed" in result.problem


def test_event_inserted_in_the_middle_is_named(recorded, tmp_path, journal_creds):
    def tamper(conn):
        # Make room at seq 3 (negate first: seq is a primary key), then slip in a well-chained event.
        conn.execute(text("UPDATE journal SET seq = -seq WHERE seq >= 3"))
        conn.execute(text("UPDATE journal SET seq = 1 - seq WHERE seq < 0"))
        conn.execute(insert(journal_table).values(**_forged(conn, 3, prev_hash=_rows(conn)[2]["hash"])))
    result = _tampered(recorded, tmp_path, journal_creds, tamper).verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "inserted" in result.problem


def test_event_appended_after_the_signed_head_is_named(recorded, tmp_path, journal_creds):
    def tamper(conn):
        conn.execute(insert(journal_table).values(**_forged(conn, N_EVENTS + 1, _rows(conn)[N_EVENTS]["hash"])))
    result = _tampered(recorded, tmp_path, journal_creds, tamper).verify()
    assert (result.ok, result.first_bad_seq) == (False, N_EVENTS + 1)
    assert "inserted" in result.problem


def test_swapped_events_are_named(recorded, tmp_path, journal_creds):
    def tamper(conn):
        conn.execute(text("UPDATE journal SET seq = -1 WHERE seq = 2"))
        conn.execute(text("UPDATE journal SET seq = 2 WHERE seq = 4"))
        conn.execute(text("UPDATE journal SET seq = 4 WHERE seq = -1"))
    result = _tampered(recorded, tmp_path, journal_creds, tamper).verify()
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert "reordered" in result.problem and "seq 4" in result.problem


def test_head_signed_with_another_key_fails(recorded, tmp_path, journal_creds):
    head = Journal.from_credentials(Ledger(f"sqlite:///{recorded}").engine, journal_creds).head()
    other_key, _ = _other_signer()
    forged = other_key.sign(head_message(head.seq, head.hash, head.signed_at), ec.ECDSA(hashes.SHA256()))
    j = _tampered(recorded, tmp_path, journal_creds,
                  lambda c: c.execute(update(journal_head_table).values(signature=forged)))
    result = j.verify()
    assert (result.ok, result.first_bad_seq) == (False, None)
    assert result.problem.startswith("head:") and "signature" in result.problem


def test_head_re_signed_with_another_certificate_fails(recorded, tmp_path, journal_creds):
    # The forger also swaps in his own certificate, so the signature itself verifies.
    head = Journal.from_credentials(Ledger(f"sqlite:///{recorded}").engine, journal_creds).head()
    other_key, other_cert = _other_signer()
    forged = other_key.sign(head_message(head.seq, head.hash, head.signed_at), ec.ECDSA(hashes.SHA256()))
    j = _tampered(recorded, tmp_path, journal_creds, lambda c: c.execute(
        update(journal_head_table).values(signature=forged, cert_chain_pem=other_cert.decode())))
    result = j.verify()
    assert (result.ok, result.first_bad_seq) == (False, None)
    assert "certificate other than" in result.problem


def test_deleted_head_fails(recorded, tmp_path, journal_creds):
    j = _tampered(recorded, tmp_path, journal_creds, lambda c: c.execute(journal_head_table.delete()))
    result = j.verify()
    assert not result.ok and result.problem.startswith("head:")
