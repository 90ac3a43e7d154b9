"""(being written)"""

from __future__ import annotations

from assistant.services.kit import Kit, Names


def names(kit: Kit) -> Names:
    """What this service offers conversations, the scheduler and the ticker."""
    del kit
    return Names()
