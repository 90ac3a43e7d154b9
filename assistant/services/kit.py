"""What every service is built from, and what each gives the conversation engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo

from assistant.domain import Language, RequestKind
from assistant.flows.engine import Action, Facts, NamedCheck, Provider, StartCheck
from assistant.rules import Rules
from assistant.schedule import Handler, Job
from assistant.services.approvals import Approvals, Workflow
from assistant.texts import Texts


@dataclass(frozen=True)
class Kit:
    """The loaded rules and templates, the default language, the campus clock's zone, and the
    approvals every request kind goes through."""

    rules: Rules
    texts: Texts
    default: Language
    campus: tzinfo
    approvals: Approvals


@dataclass(frozen=True)
class Names:
    """The option providers, checks, submit actions, start checks and facts one service offers
    conversation files, and the workflows of the request kinds it owns."""

    providers: Mapping[str, Provider] = field(default_factory=dict)
    checks: Mapping[str, NamedCheck] = field(default_factory=dict)
    actions: Mapping[str, Action] = field(default_factory=dict)
    start_checks: Mapping[str, StartCheck] = field(default_factory=dict)
    facts: Mapping[str, Facts] = field(default_factory=dict)
    workflows: Mapping[RequestKind, Workflow] = field(default_factory=dict)
    # Periodic sweeps (assistant.schedule.ticker), by name.
    jobs: Mapping[str, Job] = field(default_factory=dict)
    # What scheduled firings of each kind do (assistant.schedule.scheduler).
    firings: Mapping[str, Handler] = field(default_factory=dict)
