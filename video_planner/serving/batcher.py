"""Dynamic batching: requests that arrive within a short window share one model call, run by the one thread
that owns the model, so the event loop (health checks, new requests) never waits on the model.

    batcher = Batcher(run, window_s=0.005, max_rows=16, max_queued_rows=64)
    await batcher.start()
    answer, waited_s, rows_in_call = await batcher.submit(item, rows=1, timeout_s=60)

`run(items) -> answers` is called in the model's thread with up to `max_rows` rows of items, in arrival order;
an answer that is an exception fails only its own request. The batcher knows nothing of planning.
"""

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


class QueueFull(Exception):
    """More rows are waiting than the queue holds; `retry_after_s` estimates when there will be room."""

    def __init__(self, retry_after_s: int):
        super().__init__(f"the planning queue is full; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class ModelFault(Exception):
    """`run` itself failed: every request of the call gets this, the server keeps serving."""


@dataclass
class _Job:
    item: object
    rows: int
    enqueued: float
    future: asyncio.Future = field(repr=False)


class Batcher:
    def __init__(
        self,
        run: Callable[[Sequence[object]], Sequence[object]],
        *,
        window_s: float,
        max_rows: int,
        max_queued_rows: int,
        on_call: Callable[[int, float], None] | None = None,
    ):
        """`on_call(rows, seconds)` hears of every model call (metrics)."""
        self.run, self.window_s, self.max_rows, self.max_queued_rows = run, window_s, max_rows, max_queued_rows
        self.on_call = on_call
        self.last_call_s = 0.0
        self._pending: deque[_Job] = deque()
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")  # the model's one thread
        self._task: asyncio.Task | None = None

    @property
    def queued_rows(self) -> int:
        return sum(job.rows for job in self._pending)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name="batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for job in self._pending:
            job.future.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def submit(self, item: object, rows: int, timeout_s: float) -> tuple[object, float, int]:
        """The answer to `item`, the seconds it waited before its model call and the rows of that call. Raises
        `QueueFull` at once when the queue has no room, `TimeoutError` after `timeout_s`."""
        if self.queued_rows + rows > self.max_queued_rows:
            raise QueueFull(self._retry_after_s())
        job = _Job(item, rows, time.perf_counter(), asyncio.get_running_loop().create_future())
        self._pending.append(job)
        self._arrived.set()
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), timeout_s)
        except TimeoutError:
            if job in self._pending:  # not started: nobody will plan it
                self._pending.remove(job)
            raise

    def _retry_after_s(self) -> int:
        """Seconds until the queue has likely drained by one call's worth: at least 1."""
        calls_ahead = math.ceil(self.queued_rows / self.max_rows)
        return max(1, math.ceil(calls_ahead * self.last_call_s))

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            start = time.perf_counter()
            rows = sum(job.rows for job in batch)
            try:
                answers = await loop.run_in_executor(self._executor, self.run, [job.item for job in batch])
                if len(answers) != len(batch):
                    raise ModelFault(f"run returned {len(answers)} answers for {len(batch)} items")
            except Exception as err:
                logger.exception("model call of %d requests failed", len(batch))
                answers = [ModelFault(str(err))] * len(batch)
            self.last_call_s = time.perf_counter() - start
            if self.on_call is not None:
                self.on_call(rows, self.last_call_s)
            for job, answer in zip(batch, answers, strict=True):
                if job.future.done():  # timed out meanwhile
                    continue
                if isinstance(answer, BaseException):
                    job.future.set_exception(answer)
                else:
                    job.future.set_result((answer, start - job.enqueued, rows))

    async def _next_batch(self) -> list[_Job]:
        """Waits for a first request, then until `window_s` after it arrived or `max_rows` rows are waiting;
        takes the oldest requests that fit in `max_rows` (always at least one)."""
        while not self._pending:  # empty again when every waiting request timed out in the window
            while not self._pending:
                self._arrived.clear()
                await self._arrived.wait()
            deadline = self._pending[0].enqueued + self.window_s
            while self.queued_rows < self.max_rows and (left := deadline - time.perf_counter()) > 0:
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), left)
                except TimeoutError:
                    break
        batch = [self._pending.popleft()]
        rows = batch[0].rows
        while self._pending and rows + self._pending[0].rows <= self.max_rows:
            rows += self._pending[0].rows
            batch.append(self._pending.popleft())
        return batch
