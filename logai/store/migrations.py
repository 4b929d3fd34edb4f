"""Schema migrations with Alembic, applied when a store is opened.

The revisions are in `logai/store/alembic/versions/`, oldest first; `migrate` upgrades a database to the
newest one inside the caller's transaction. A store made before logai used Alembic recorded its version in
`logai_meta`; it is stamped with the matching revision first, so nothing is created twice.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select, text

from logai.store import schema

# the files under alembic/versions, in order
REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011", "0012", "0013"]
SCHEMA_VERSION = len(REVISIONS)
_LOCK_ID = 0x6C6F6761  # "loga": the advisory lock that serialises migrations on PostgreSQL


def _config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "logai.store:alembic")
    config.attributes["connection"] = conn
    return config


def current_version(conn: Connection) -> int:
    """The schema version of the database: 0 for an empty one."""
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is not None:
        if revision not in REVISIONS:
            raise RuntimeError(f"the store has schema revision {revision}; this logai knows up to {REVISIONS[-1]}")
        return REVISIONS.index(revision) + 1
    if not conn.dialect.has_table(conn, schema.meta.name):
        return 0
    value = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).scalar()
    return int(value) if value is not None else 0  # a store from before Alembic


def migrate(conn: Connection) -> int:
    """Bring the database to SCHEMA_VERSION; refuse a database newer than this logai. Several daemons may
    start at once: on PostgreSQL they queue on an advisory lock held until this transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _LOCK_ID})
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"the store has schema version {version}; this logai knows up to {SCHEMA_VERSION}")
    config = _config(conn)
    if version and MigrationContext.configure(conn).get_current_revision() is None:
        command.stamp(config, REVISIONS[version - 1])  # a store from before Alembic: where it stands
    command.upgrade(config, "head")
    return SCHEMA_VERSION
