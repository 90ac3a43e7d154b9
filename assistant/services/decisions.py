"""The short conversations an approver is asked after pressing a card's button, and what
happens to a stage nobody decides.

Reject asks for a reason (``conversations/approval_reason.yaml``). The request and stage come in
as the conversation's preset answers; the decision is checked again in full when it submits, so
a card decided by someone else in the meantime, or a grant lost, is caught there. A stage left
undecided is nudged, then offered up the chain, by the firings the approvals plan with it.
"""

from __future__ import annotations

from assistant.flows.engine import Action, FlowContext, Refused, Submitted
from assistant.services.approvals import FALL_BACK, NUDGE, Approvals, Handling
from assistant.services.kit import Kit, Names


def names(kit: Kit) -> Names:
    """The reject action, and the nudge and fallback of stages nobody decides."""
    return Names(
        actions={"approval.reject": reject(kit.approvals)},
        firings={NUDGE: kit.approvals.nudge, FALL_BACK: kit.approvals.fall_back},
    )


def reject(approvals: Approvals) -> Action:
    """``approval.reject``: reject the request's stage with the typed reason."""

    async def submit(context: FlowContext) -> Submitted:
        result = await approvals.decide(
            context.session,
            context.actor,
            int(context.answers["request"]),
            int(context.answers["stage_no"]),
            approve=False,
            reason=str(context.answers["reason"]),
            now=context.now,
        )
        if result.handling is not Handling.DONE:
            raise Refused(f"approval_{result.handling}")
        return Submitted("approval_rejected", {"request": result.request})

    return submit
