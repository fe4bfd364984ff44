"""Tables for several server processes on one PostgreSQL database (issue #7).

Kept as plain tables: the cluster code reads and writes them in bulk, never as objects.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table

from helppoint.store.tables import metadata
from helppoint.store.types import UTCDateTime

#: One row per running server process; `seen_at` is refreshed every few seconds, so a
#: process that died without cleaning up is recognised by its age.
server_processes = Table(
    "server_processes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    #: Before when (POSIX seconds) the process has written every sign of life it heard,
    #: written every second (cluster/presence.py): the supervision sweep's bound.
    Column("heard_through", Float, nullable=True),
)

#: Which process holds each unit's device link (written in batches, about once a second).
unit_links = Table(
    "unit_links",
    metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("process_id", String(32), nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Index("ix_unit_links_process", "process_id"),
)
