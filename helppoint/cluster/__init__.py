"""Several server processes on one PostgreSQL database (docs/deployment.md).

`Cluster` ties together the three pieces each process needs:

- `ClusterBus` (bus.py): LISTEN/NOTIFY fan-out, so a console on any process sees what any
  other process commits, and commands reach units linked to another process;
- `Presence` (presence.py): which process holds each unit's link;
- `Elector` (election.py): advisory locks so each periodic job runs in exactly one process.

With SQLite there is one process and no cluster: the app runs every job itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from helppoint.cluster.bus import ClusterBus, channel_name, conninfo, namespace
from helppoint.cluster.election import Elector, Job
from helppoint.cluster.presence import Presence
from helppoint.gateway.broker import Broker

__all__ = ["Cluster", "Elector", "Job", "supports_cluster"]


def supports_cluster(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class Cluster:
    """This process's membership of the cluster."""

    def __init__(self, engine: Engine, broker: Broker) -> None:
        self.process_id = uuid.uuid4().hex[:16]
        self.space = namespace(engine)
        self.conninfo = conninfo(engine)
        self.broker = broker
        self.bus = ClusterBus(engine, broker, self.process_id, channel_name(self.space))
        self.presence = Presence(engine, self.process_id)
        self.elector: Elector | None = None

    def before_commit(self) -> Callable[[Session, list[tuple[str, dict[str, Any]]]], None]:
        return self.bus.notify_in_transaction

    def elect(self, jobs: list[Job]) -> Elector:
        self.elector = Elector(jobs, self.conninfo, self.space)
        return self.elector

    async def start(self) -> None:
        self.broker.forward = self.bus.relay
        await self.bus.start()
        await self.presence.start()

    async def stop(self) -> None:
        await self.presence.stop()
        await self.bus.stop()
        self.broker.forward = None
