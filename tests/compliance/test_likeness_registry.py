"""Watch-list and consent records in a real SQLite ledger: embeddings and metadata only, never photos."""
from datetime import date

import numpy as np
import pytest
from sqlalchemy import create_engine, inspect

from compliance.registry import EMBEDDING_BYTES, LikenessRegistry


@pytest.fixture
def engine(tmp_path):
    return create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")


def _vec(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(128).astype(np.float32) * 0.1


def test_tables_hold_embeddings_and_metadata_only(engine):
    LikenessRegistry(engine)
    insp = inspect(engine)
    assert {c["name"] for c in insp.get_columns("watchlist")} == {"id", "name", "reason", "embedding", "added_at", "added_by"}
    assert {c["name"] for c in insp.get_columns("consent")} == {
        "id", "name", "embedding", "regions", "products", "expires_on", "record_ref", "added_at"}


def test_add_list_remove_round_trip_and_persistence(engine):
    reg = LikenessRegistry(engine)
    vec = _vec(1)
    w = reg.add_watch("Jane Roe", vec, reason="celebrity", added_by="legal@acme")
    c = reg.add_consent("Model B", _vec(2), regions=["EU", "KR"], products="*", expires_on=date(2027, 1, 31), record_ref="release-9")
    again = LikenessRegistry(engine)  # a second registry on the same database sees the same rows
    (watch,) = again.list("watch")
    assert (watch.id, watch.name, watch.reason, watch.added_by) == (w, "Jane Roe", "celebrity", "legal@acme")
    assert len(watch.embedding) == EMBEDDING_BYTES
    np.testing.assert_array_equal(watch.vector, vec)
    (consent,) = again.list("consent")
    assert (consent.id, consent.regions, consent.products, consent.expires_on) == (c, ("EU", "KR"), ("*",), date(2027, 1, 31))
    again.remove("watch", w)
    assert again.list("watch") == ()
    with pytest.raises(KeyError, match="no watch entry with id"):
        again.remove("watch", w)


def test_consent_scope(engine):
    reg = LikenessRegistry(engine)
    reg.add_consent("Model B", _vec(2), regions="EU,KR", products="SKU-1", expires_on=date(2027, 1, 31), record_ref="r")
    (c,) = reg.list("consent")
    assert c.scope_problems(region="KR", sku="SKU-1", as_of=date(2027, 1, 31)) == ()  # the last day still counts
    assert c.scope_problems(region="IN", sku="SKU-2", as_of=date(2027, 2, 1)) == (
        "consent expired on 2027-01-31",
        "region IN not in consent regions EU,KR",
        "product SKU-2 not in consent products SKU-1",
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda r: r.add_watch("X", np.zeros(64), reason="r", added_by="a"), r"shape \(128,\)"),
        (lambda r: r.add_watch("X", np.full(128, np.nan), reason="r", added_by="a"), "non-finite"),
        (lambda r: r.add_watch(" ", _vec(1), reason="r", added_by="a"), "name must be a non-empty string"),
        (lambda r: r.add_consent("X", _vec(1), regions="*", products="*", expires_on=date(2027, 1, 1), record_ref="r"), "regions"),
        (lambda r: r.add_consent("X", _vec(1), regions="EU,", products="*", expires_on=date(2027, 1, 1), record_ref="r"), "regions"),
        (lambda r: r.add_consent("X", _vec(1), regions="EU", products="*,SKU-1", expires_on=date(2027, 1, 1), record_ref="r"), "stands alone"),
        (lambda r: r.add_consent("X", _vec(1), regions="EU", products="*", expires_on="2027-01-01", record_ref="r"), "expires_on must be a date"),
        (lambda r: r.list("blocked"), "kind must be 'watch' or 'consent'"),
    ],
)
def test_bad_input_is_refused(engine, call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(LikenessRegistry(engine))
