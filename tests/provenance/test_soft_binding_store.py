"""The soft-binding tables in a ledger that several processes open at once."""
import threading
from pathlib import Path

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


def test_text_prints_round_trip_and_assets_recorded_without_them_have_none(tmp_path):
    from provenance.fingerprint import TextPrints

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    # A ledger from before text prints: only the old tables, one asset in them.
    old = create_engine(url)
    with old.begin() as c:
        c.exec_driver_sql("CREATE TABLE watermarks (asset_id VARCHAR(64) PRIMARY KEY, payload VARCHAR(16) NOT NULL)")
        c.exec_driver_sql("CREATE TABLE fingerprints (asset_id VARCHAR(64), seq INTEGER, hash VARCHAR(16) NOT NULL, "
                          "PRIMARY KEY (asset_id, seq))")
        c.exec_driver_sql("INSERT INTO watermarks VALUES ('asset-old', '0000000000000001')")
        c.exec_driver_sql("INSERT INTO fingerprints VALUES ('asset-old', 0, '00000000000000ff')")
    store = SoftBindingStore(create_engine(url))
    prints = TextPrints(regions=((0.6, 0.05, 0.95, 0.15), (0.6, 0.16, 0.95, 0.42)),
                        hashes=((2 ** 255 + 1, 7), (3, 2 ** 200)))
    store.record("asset-new", 2, [5, 6], text=prints)
    assert store.text_prints(["asset-old", "asset-new", "asset-unknown"]) == {"asset-new": prints}
    assert store.asset_for_payload(1) == "asset-old"                  # old rows keep working
    assert len(store.fingerprint_index()) == 3
    store.record("asset-new", 2, [5, 6])                              # recorded again without: gone
    assert store.text_prints(["asset-new"]) == {}


def test_a_held_publication_from_before_text_prints_reads_back_without_them():
    from pipeline.publish import Publication
    from provenance.fingerprint import TextPrints

    pub = Publication(asset_id="a", variant_key="k", run_id="r", sku="S", locale="de-DE", aspect="1:1",
                      base_clip_key="b", output_path=Path("out/a.mp4"), watermark_payload=3, fingerprints=(1, 2),
                      text_prints=TextPrints(((0.0, 0.0, 0.5, 0.5),), ((9,), (10,))))
    assert Publication.from_record(pub.to_record()) == pub
    old = pub.to_record()
    del old["text_prints"]
    assert Publication.from_record(old).text_prints is None
