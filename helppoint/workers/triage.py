"""The triage worker: marks alarms as their unit's pattern and the supervisor's rules say.

It follows the incidents as they are published (after commit: it never delays a press) and
evaluates an alarm when it opens and whenever its voice judgement changes
(services/triage_rules.evaluate), on the database thread pool; alarms that queued up while it
worked (a flood's) are looked at together. One process of a cluster runs
it (an elected job); evaluating twice would be harmless anyway (each rule marks an alarm once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from starlette.concurrency import run_in_threadpool

from helppoint.domain.triage_patterns import DEFAULT_CHATTER, ChatterRule
from helppoint.gateway.broker import Broker
from helppoint.services import triage_rules
from helppoint.store.uow import UnitOfWork
from helppoint.tasks import cancel_and_wait
from helppoint.topics import IncidentMessage, Topic

log = logging.getLogger(__name__)

#: Incidents remembered (with the voice they were last evaluated at).
REMEMBER = 10_000
#: The most alarms looked at together (those that queued up while the last were looked at).
BATCH = 500


class TriageWorker:
    """Evaluates open alarms against the patterns and rules as they change."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        broker: Broker,
        timezone: str,
        chatter: ChatterRule = DEFAULT_CHATTER,
    ) -> None:
        self._uow_factory = uow_factory
        self._broker = broker
        self._timezone = timezone
        self._chatter = chatter
        self._seen: dict[int, str | None] = {}
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        #: Evaluations done (tests and the log).
        self.evaluated = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="triage")

    async def ready(self) -> None:
        """Wait until the worker follows the incidents."""
        await self._started.wait()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _run(self) -> None:
        async with self._broker.subscribe([Topic.INCIDENTS]) as subscription:
            self._started.set()
            while True:
                due = []
                _, message = await subscription.get()
                while True:
                    if self._due(cast(IncidentMessage, message)):
                        due.append(int(message["id"]))
                    if len(due) >= BATCH or subscription.queue.empty():
                        break
                    _, message = subscription.queue.get_nowait()
                if due:
                    await self._evaluate(due)

    async def _evaluate(self, incident_ids: list[int]) -> None:
        """Evaluate these alarms: those that get a new mark are found together
        (`triage_rules.needing_marks`), then each of them is marked in a transaction."""
        try:
            marking = await run_in_threadpool(
                triage_rules.needing_marks,
                self._uow_factory(),
                incident_ids,
                self._timezone,
                self._chatter,
            )
        except Exception:  # the next change of an incident tries again
            log.exception("triage: cannot evaluate incidents %s", incident_ids)
            return
        self.evaluated += len(incident_ids) - len(marking)
        for incident_id in marking:
            try:
                await run_in_threadpool(
                    triage_rules.evaluate,
                    self._uow_factory(),
                    incident_id,
                    self._timezone,
                    self._chatter,
                )
                self.evaluated += 1
            except Exception:  # the next change of the incident tries again
                log.exception("triage: cannot evaluate incident %s", incident_id)

    def _due(self, message: IncidentMessage) -> bool:
        """An open alarm not on test, new or with another voice than when last evaluated."""
        incident_id = message.get("id")
        if (
            message.get("kind") != "activation"
            or message.get("state") == "closed"
            or message.get("on_test")
            or not isinstance(incident_id, int)
        ):
            return False
        voice = message.get("voice")
        if incident_id in self._seen and self._seen[incident_id] == voice:
            return False
        self._seen[incident_id] = voice
        while len(self._seen) > REMEMBER:
            del self._seen[next(iter(self._seen))]
        return True
