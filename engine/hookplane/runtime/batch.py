"""Group commit, the one engine: concurrent writes share one transaction and one commit.

It serves the inbound path (:class:`GroupCommitter`: record writes and inbound log entries,
``RuntimeStore.write_many``) and the dispatcher (attempt outcomes,
``RuntimeStore.record_attempts``). A caller hands its operation to
:meth:`GroupCommit.submit` and waits. When no group is being committed, the operation
starts one at once (no added latency when the server is quiet); operations that arrive while
a group is committing wait for it and go together in the next one. Each caller is answered
only after the commit that holds its operation returned, so an answer still means the data
is durable. The commit function returns one result per operation; an operation's own
failure is a :class:`~hookplane.errors.StateError` in its place (raised to its caller only),
a failure of the whole commit is raised to every caller of the group.

Why: a transaction costs far more in SQLAlchemy and the database than the INSERTs inside it
(../docs/performance.md); with one transaction per write, a busy ingest endpoint (or a
dispatcher finishing many deliveries) spends most of its time beginning and committing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import anyio
import anyio.to_thread

from hookplane.errors import StateError
from hookplane.state.runtime import (
    Record,
    RuntimeStore,
    WriteOperation,
    WriteResult,
)

__all__ = ["MAX_GROUP", "GroupCommit", "GroupCommitter"]

log = logging.getLogger("hookplane.runtime.batch")

OpT = TypeVar("OpT")
ResT = TypeVar("ResT")

MAX_GROUP = 256
"""Most operations committed together (bounds a transaction's length and a group's
latency)."""


class GroupCommit(Generic[OpT, ResT]):
    """Batches operations into shared commits of ``commit`` (a blocking function run in a
    worker thread, under ``limiter`` when given: e.g. one writer thread per process)."""

    def __init__(self, commit: Callable[[list[OpT]], Sequence[ResT | StateError]], *,
                 max_group: int = MAX_GROUP,
                 limiter: anyio.CapacityLimiter | None = None) -> None:
        if max_group < 1:
            raise ValueError("max_group must be at least 1")
        self._commit = commit
        self._max_group = max_group
        self._limiter = limiter
        self._waiting: list[tuple[OpT, asyncio.Future[ResT | StateError]]] = []
        self._committer: asyncio.Task[None] | None = None
        self.groups = 0
        """Commits made so far (with :attr:`writes`: the mean group size, for metrics)."""
        self.writes = 0

    async def submit(self, operation: OpT) -> ResT:
        """Commit ``operation`` (with whatever else is waiting); its result, or raise its
        :class:`StateError` (``DatabaseUnavailable`` when the commit itself failed)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ResT | StateError] = loop.create_future()
        self._waiting.append((operation, future))
        if self._committer is None or self._committer.done():
            self._committer = loop.create_task(self._commit_all())
        # shielded: a caller cancelled while its group commits is still written (like a
        # write already handed to the database thread); it just is not answered
        result = await asyncio.shield(future)
        if isinstance(result, StateError):
            raise result
        return result

    async def _commit_all(self) -> None:
        while self._waiting:
            # one turn of the event loop first: the callers just answered run, and whatever
            # finishes in that turn joins this group (without it each commit started with
            # what had queued during the last one: the dispatcher made ~20% fewer
            # deliveries/s, benchmarks/dispatch.py 0.59 against 0.73-0.83)
            await asyncio.sleep(0)
            group = self._waiting[:self._max_group]
            del self._waiting[:self._max_group]
            operations = [operation for operation, _ in group]
            results: Sequence[ResT | StateError]
            try:
                results = await anyio.to_thread.run_sync(self._commit, operations,
                                                         limiter=self._limiter)
                if len(results) != len(group):
                    raise RuntimeError(f"{len(results)} results for {len(group)} operations")
            except StateError as exc:
                results = [exc] * len(group)
            except Exception as exc:  # a bug: fail these writes, keep serving the next ones
                log.exception("group commit of %d operations failed", len(group))
                error = StateError(f"write failed: {type(exc).__name__}")
                results = [error] * len(group)
            self.groups += 1
            self.writes += len(group)
            for (_, future), result in zip(group, results, strict=True):
                if not future.done():
                    future.set_result(result)


class GroupCommitter(GroupCommit[WriteOperation, WriteResult]):
    """The inbound path's group commit: :class:`~hookplane.state.runtime.WriteOperation`s
    into ``RuntimeStore.write_many``. One write failing (a duplicate delivery, a taken
    external id) does not fail the others: ``write_many`` then runs the group again with a
    savepoint per write, and only the failing one is rolled back."""

    def __init__(self, store: RuntimeStore, *, max_group: int = MAX_GROUP) -> None:
        super().__init__(store.write_many, max_group=max_group)

    async def write(self, operation: WriteOperation) -> WriteResult:
        return await self.submit(operation)

    async def record(self, operation: WriteOperation) -> Record:
        result = await self.write(operation)
        if isinstance(result, tuple):
            return result[0]
        assert isinstance(result, Record), result
        return result
