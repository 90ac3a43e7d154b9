"""Time: the durable scheduler and the periodic sweeps.

Every future moment is a row of ``firings`` that :class:`Scheduler` fires through the handler of
its kind; :class:`Ticker` runs sweeps over stored rows. Services implement :data:`Handler` and
:data:`Job` and register them by name (``Names.firings``, ``Names.jobs``), and the
:data:`Report` of firings that failed for good; the edge starts both. Nothing here knows
Telegram or any service.
"""

from assistant.schedule.scheduler import Failure, Handler, Report, Scheduler
from assistant.schedule.ticker import Job, Ticker

__all__ = ["Failure", "Handler", "Job", "Report", "Scheduler", "Ticker"]
