"""A reviewer turns a take down with a reason: journalled as theirs; refused without a name, a reason, or on the pick."""
import pytest

from compliance.journal import Journal
from compliance.record import human_pick, record_human_pick, record_human_rejection
from provenance.credentials import load_credentials
from provenance.ledger import Ledger
from provenance.spec import SigningConfig


@pytest.fixture
def journal(tmp_path) -> Journal:
    creds = load_credentials(SigningConfig(home=tmp_path / "home"))
    return Journal.from_credentials(Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}").engine, creds)


def test_a_rejection_is_the_reviewers_with_its_reason_and_the_pick_stands(journal):
    record_human_pick(journal, "set1", takes=8, actor="Mei Chen", candidate=3, reason="steadiest")
    record_human_rejection(journal, "set1", takes=8, actor="Ana Ruiz", candidate=6, reason=" label flickers ")
    last = journal.events(variant_key="set:set1")[-1]
    assert (last.action, last.actor, last.actor_kind) == ("candidate_rejected", "Ana Ruiz", "human")
    assert last.detail == {"candidate": 6, "candidate_set": "set1", "reason": "label flickers"}
    assert human_pick(journal, "set1").candidate == 3
    assert journal.verify().ok


def test_refusals_record_nothing(journal):
    record_human_pick(journal, "set1", takes=8, actor="Mei Chen", candidate=3)
    count = len(journal.events())
    for kwargs, message in (({"actor": " ", "candidate": 1, "reason": "x"}, "name is empty"),
                            ({"actor": "Mei", "candidate": 1, "reason": " "}, "needs a reason"),
                            ({"actor": "Mei", "candidate": 8, "reason": "x"}, "does not exist"),
                            ({"actor": "Mei", "candidate": 3, "reason": "x"}, "picked take")):
        with pytest.raises(ValueError, match=message):
            record_human_rejection(journal, "set1", takes=8, **kwargs)
    assert len(journal.events()) == count
