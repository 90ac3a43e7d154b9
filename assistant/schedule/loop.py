"""What the scheduler and the ticker share: one task, from the bot's start to its stop."""

from __future__ import annotations

import abc
import asyncio
import contextlib


class Loop(abc.ABC):
    """Runs :meth:`forever` as a task named ``name`` from :meth:`start` until :meth:`stop`.

    Stopping cancels the task, so a pass in progress rolls back its unit of work: everything it
    would have changed is a row, found again after the next start.
    """

    name = "loop"
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin running."""
        self._task = asyncio.create_task(self.forever(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task and wait for it to end."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @abc.abstractmethod
    async def forever(self) -> None:
        """The loop itself."""
