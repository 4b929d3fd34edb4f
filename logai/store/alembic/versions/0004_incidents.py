"""Incidents and the delivery log of their alerts.

Revision ID: 0004
"""

from __future__ import annotations

from alembic import op

from logai.store import schema

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    bind = op.get_bind()
    schema.incidents.create(bind, checkfirst=True)
    schema.alert_deliveries.create(bind, checkfirst=True)
