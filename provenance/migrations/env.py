"""Alembic environment for the ledger tables (runs, assets, manifests).

`Ledger` runs the upgrade itself on a connection it has already locked, passed in
`config.attributes["connection"]`. From a shell (e.g. to autogenerate a revision):

    alembic -c provenance/migrations/alembic.ini -x url=postgresql+psycopg://... upgrade head
    alembic -c provenance/migrations/alembic.ini -x url=sqlite:///ledger.sqlite revision --autogenerate -m "..."
"""
from alembic import context
from sqlalchemy import create_engine

from provenance.ledger import metadata

config = context.config
# Autogenerate compares only the ledger's own tables; the journal tables (compliance/journal.py)
# are created by a hand-written revision (0002) and changed only by hand-written ones.
LEDGER_TABLES = frozenset(metadata.tables)


def _include_name(name, type_, _parent_names) -> bool:
    return type_ != "table" or name in LEDGER_TABLES


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, include_name=_include_name,
                      render_as_batch=connection.dialect.name == "sqlite")   # SQLite alters by table copy
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the ledger URL: alembic -x url=<database url> ...")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
