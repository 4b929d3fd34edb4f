"""What revisions that add an index or a column share: a store created at or after the revision has it already
(0001 creates the current tables), so it is added only where it is missing."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_index_if_missing(name: str, table: str, columns: list[str]) -> None:
    if name not in {index["name"] for index in sa.inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, columns)


def add_column_if_missing(table: str, column: sa.Column) -> None:
    if column.name not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}:
        op.add_column(table, column)
