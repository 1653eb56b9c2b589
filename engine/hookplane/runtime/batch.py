"""Group commit: concurrent requests' writes share one transaction and one commit.

A request hands its write to :meth:`GroupCommitter.write` and waits. When no group is being
committed, the write starts one at once (no added latency when the server is quiet); writes
that arrive while a group is committing wait for it and go together in the next one. Each
request is answered only after the commit that holds its write returned, so an answer still
means the data is durable. One write failing (a duplicate delivery, a taken external id) does
not fail the others: ``RuntimeStore.write_many`` then runs the group again with a savepoint
per write, and only the failing one is rolled back.

Why: a transaction costs far more in SQLAlchemy and the database than the INSERTs inside it
(../docs/performance.md); with one transaction per write, a busy ingest endpoint spends most of
its time beginning and committing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TypeVar

import anyio.to_thread

from hookplane.errors import StateError
from hookplane.state.runtime import (
    Record,
    RuntimeStore,
    WriteOperation,
    WriteResult,
)

log = logging.getLogger("hookplane.runtime.batch")

T = TypeVar("T")

MAX_GROUP = 256
"""Most writes committed together (bounds a transaction's length and a group's latency)."""


class GroupCommitter:
    """Batches :class:`~hookplane.state.runtime.WriteOperation`s into shared commits."""

    def __init__(self, store: RuntimeStore, *, max_group: int = MAX_GROUP) -> None:
        if max_group < 1:
            raise ValueError("max_group must be at least 1")
        self._store = store
        self._max_group = max_group
        self._waiting: list[tuple[WriteOperation, asyncio.Future[WriteResult]]] = []
        self._committer: asyncio.Task[None] | None = None
        self.groups = 0
        """Commits made so far (with :attr:`writes`: the mean group size, for metrics)."""
        self.writes = 0

    async def write(self, operation: WriteOperation) -> WriteResult:
        """Commit ``operation`` (with whatever else is waiting); its result, or raise its
        :class:`StateError` (``DatabaseUnavailable`` when the commit itself failed)."""
        future: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((operation, future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.get_running_loop().create_task(self._commit_all())
        # shielded: a request cancelled while its group commits is still written (like a
        # write already handed to the database thread); it just is not answered
        result = await asyncio.shield(future)
        if isinstance(result, StateError):
            raise result
        return result

    async def record(self, operation: WriteOperation) -> Record:
        result = await self.write(operation)
        if isinstance(result, tuple):
            return result[0]
        assert isinstance(result, Record), result
        return result

    async def _commit_all(self) -> None:
        while self._waiting:
            group = self._waiting[:self._max_group]
            del self._waiting[:self._max_group]
            operations = [operation for operation, _ in group]
            try:
                results: list[WriteResult] = await anyio.to_thread.run_sync(
                    self._store.write_many, operations)
            except StateError as exc:
                results = [exc] * len(group)
            except Exception as exc:  # a bug: fail these writes, keep serving the next ones
                log.exception("group commit of %d writes failed", len(group))
                error = StateError(f"write failed: {type(exc).__name__}")
                results = [error] * len(group)
            self.groups += 1
            self.writes += len(group)
            for (_, future), result in zip(group, results, strict=True):
                if not future.done():
                    future.set_result(result)
