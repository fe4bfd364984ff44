"""Where the ingest queue's batches are committed: in a writer process, or on a thread.

Storing a batch (checking seqs, opening and joining incidents, the audit chain, touches) is
pure CPU work around one commit. On a thread of the serving process it holds the GIL half the
time in an alarm flood, so the event loop that reads sockets, answers panels and feeds the
consoles runs on half a core. The writer process (`ProcessWriter`, the default for `serve`)
does it on another core: the serving process sends each batch over a pipe and gets back the
results and the messages to publish once it is committed. `ThreadWriter` stores in-process,
for an in-memory database and for `ingest_writer = "thread"`.

Either way nothing is acknowledged before its batch is committed. If the writer process dies,
the batches it held fail (units resend them; a resend of what did commit is a duplicate, and
duplicates are acknowledged without being stored twice) and a new one is started.

One job a module:

- this one: what a writer promises (`BatchWriter`) and how it answers (`WriteFailed`, `settle`);
- batch_commit.py: the transaction, a group of batches committed and one unit's failure kept
  from the others;
- writer_loop.py: the loop both writers run (group what queued up, publish what is owed);
- thread_writer.py: `ThreadWriter`;
- process_writer.py: `ProcessWriter`, the serving process's side of the writer process;
- writer_pipe.py: what goes over the pipe between them;
- writer_process.py: the writer process itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import Future, InvalidStateError
from typing import Any, Protocol

from helppoint.gateway.batch_commit import Batch
from helppoint.services.ingest import IngestResult


class WriteFailed(Exception):
    """The batch was not stored (database error, or the writer process died)."""


class BatchWriter(Protocol):
    """Commits batches one after another, in the order they were submitted.

    Used from the event loop's thread.
    """

    def open(self) -> None:
        """Get ready without blocking (start the writer process, say)."""

    async def ready(self) -> None:
        """Wait until `open` is done (a writer process started, or failed to: logged)."""

    def submit(self, batch: Batch) -> asyncio.Future[list[IngestResult]]:
        """Hand over a batch; the future resolves once it is committed (or failed)."""

    async def close(self) -> None:
        """Finish what was submitted, then release everything."""

    def status(self) -> dict[str, Any]:
        """What /healthz shows of it."""


def settle(
    written: Future[list[IngestResult]] | asyncio.Future[list[IngestResult]],
    result: list[IngestResult] | None = None,
    error: BaseException | None = None,
) -> None:
    """Answer a submitted batch with its results, or with `error`."""
    # Whoever waited may have given up (a server stopping): the events are stored anyway.
    with contextlib.suppress(InvalidStateError, asyncio.InvalidStateError):
        if error is not None:
            written.set_exception(error)
        else:
            written.set_result(result or [])
