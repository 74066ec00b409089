"""A ledger as Tessera left it at revision 0003 (one row per variant key), with rows in it."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from provenance.ledger import MIGRATIONS_DIR, normalize_url


def ledger_at_0003(url: str, out: str) -> None:
    """Two runs of catalog /cat into `out`: assets tsr-a (active) and tsr-b (retired) with manifests."""
    engine = create_engine(normalize_url(url))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.commit()
    with engine.begin() as c:
        for run in ("r1", "r2"):
            c.execute(text("INSERT INTO runs (run_id, started_at, catalog, status, rendered, skipped, failed, "
                           "settings_json) VALUES (:r, '2026-12-01 10:00:00.000000', '/cat', 'completed', 1, 0, 0, "
                           "'{}')"), {"r": run})
        for asset, key, run, status in (("tsr-a", "ka", "r1", "active"), ("tsr-b", "kb", "r2", "retired")):
            c.execute(text("INSERT INTO assets (asset_id, variant_key, run_id, sku, locale, aspect, output_path, "
                           "sha256, manifest_label, base_clip_key, status, created_at) VALUES (:a, :k, :r, 'SKU-1', "
                           "'de-DE', '1:1', :p, :s, 'urn:c2pa:x', 'base', :st, '2026-12-01 10:00:00.000000')"),
                      {"a": asset, "k": key, "r": run, "p": f"{out}/SKU-1/{asset}.mp4", "s": key * 32, "st": status})
            c.execute(text("INSERT INTO manifests (asset_id, label, manifest_json) VALUES (:a, 'urn:c2pa:x', :m)"),
                      {"a": asset, "m": f'{{"asset": "{asset}"}}'})
    engine.dispose()
