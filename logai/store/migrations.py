"""Versioned schema migrations, applied in order when a store is opened.

Version 1 creates every table. Later versions append a function here; `migrate` runs the ones a database
has not seen yet and records the version in `logai_meta`, inside one transaction each.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select, text

from logai.store import schema


def _v1_initial(conn: Connection) -> None:
    schema.metadata.create_all(conn)


def _v2_requests(conn: Connection) -> None:
    schema.requests.create(conn, checkfirst=True)


def _v3_feedback(conn: Connection) -> None:
    schema.feedback.create(conn, checkfirst=True)


def _v4_incidents(conn: Connection) -> None:
    schema.incidents.create(conn, checkfirst=True)
    schema.alert_deliveries.create(conn, checkfirst=True)


MIGRATIONS: list[Callable[[Connection], None]] = [_v1_initial, _v2_requests, _v3_feedback, _v4_incidents]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    if not conn.dialect.has_table(conn, schema.meta.name):
        return 0
    value = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).scalar()
    return int(value) if value is not None else 0


_LOCK_ID = 0x6C6F6761  # "loga": the advisory lock that serialises migrations on PostgreSQL


def migrate(conn: Connection) -> int:
    """Bring the database to SCHEMA_VERSION; refuse a database newer than this logai. Several daemons may
    start at once: on PostgreSQL they queue on an advisory lock held until this transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _LOCK_ID})
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"the store has schema version {version}; this logai knows up to {SCHEMA_VERSION}")
    for number in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[number - 1](conn)
        conn.execute(schema.meta.delete().where(schema.meta.c.key == "schema_version"))
        conn.execute(schema.meta.insert().values(key="schema_version", value=str(number)))
    return SCHEMA_VERSION
