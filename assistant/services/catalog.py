"""The names conversation files may use: option providers, checks and submit actions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo

from assistant.domain import Language
from assistant.flows.engine import Registry
from assistant.rules import Rules
from assistant.schedule import Handler, Job
from assistant.services import (
    activities,
    booking,
    broadcasts,
    decisions,
    drafts,
    duty,
    grid,
    meetings,
    projects,
    red_service,
    reminders,
    stars,
    talks,
)
from assistant.services.approvals import Approvals
from assistant.services.kit import Kit
from assistant.texts import Texts


@dataclass(frozen=True)
class Services:
    """The registry the engine runs conversations with, and the approvals behind the cards."""

    registry: Registry
    approvals: Approvals
    jobs: Mapping[str, Job]
    firings: Mapping[str, Handler]


def services(rules: Rules, texts: Texts, default: Language, campus: tzinfo) -> Services:
    """Everything the shipped conversations name, wired to the rules and templates."""
    approvals = Approvals(rules, texts, default, {})
    kit = Kit(rules, texts, default, campus, approvals)
    parts = [
        grid.names(kit),
        decisions.names(kit),
        booking.names(kit),
        projects.names(kit),
        stars.names(kit),
        reminders.names(kit),
        duty.names(kit),
        broadcasts.names(kit),
        drafts.names(kit),
        meetings.names(kit),
        red_service.names(kit),
        talks.names(kit),
        activities.names(kit),
    ]
    for part in parts:
        approvals.workflows.update(part.workflows)
    return Services(
        Registry(
            providers={k: v for part in parts for k, v in part.providers.items()},
            checks={k: v for part in parts for k, v in part.checks.items()},
            actions={k: v for part in parts for k, v in part.actions.items()},
            start_checks={k: v for part in parts for k, v in part.start_checks.items()},
            facts={k: v for part in parts for k, v in part.facts.items()},
        ),
        approvals,
        {k: v for part in parts for k, v in part.jobs.items()},
        {k: v for part in parts for k, v in part.firings.items()},
    )
