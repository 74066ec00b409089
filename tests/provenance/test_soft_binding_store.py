"""The soft-binding tables in a ledger that several processes open at once."""
import threading

from sqlalchemy import create_engine, inspect

from provenance.soft_binding import SoftBindingStore


def test_stores_opened_at_the_same_moment_on_a_fresh_ledger_all_work(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    barrier, errors = threading.Barrier(8), []

    def open_store(k: int) -> None:
        engine = create_engine(url, connect_args={"timeout": 30})
        barrier.wait()
        try:
            SoftBindingStore(engine).record(f"asset-{k}", k + 1, [k])
        except Exception as e:                  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=open_store, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = SoftBindingStore(create_engine(url))
    assert {"watermarks", "fingerprints"} <= set(inspect(store.engine).get_table_names())
    assert [store.asset_for_payload(k + 1) for k in range(8)] == [f"asset-{k}" for k in range(8)]
