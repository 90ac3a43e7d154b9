"""Time: the durable scheduler and the periodic sweeps.

Every future moment is a row of ``firings`` that :class:`Scheduler` fires through the handler of
its kind; :class:`Ticker` runs sweeps over stored rows. Services implement :data:`Handler` and
:data:`Job` and register them by name (``Names.firings``, ``Names.jobs``); the edge starts both.
Nothing here knows Telegram or any service.
"""

from assistant.schedule.scheduler import Handler, Scheduler
from assistant.schedule.ticker import Job, Ticker

__all__ = ["Handler", "Job", "Scheduler", "Ticker"]
