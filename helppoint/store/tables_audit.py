"""The audit chain head: one row holding the last entry's seq and hash.

Appending to the chain locks this row (FOR UPDATE on PostgreSQL; SQLite transactions already
take the write lock with BEGIN IMMEDIATE), so concurrent writers append one after another.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table

from helppoint.store.tables import metadata

#: The id of the single row of `audit_chain_head`.
HEAD_ID = 1

audit_chain_head = Table(
    "audit_chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
