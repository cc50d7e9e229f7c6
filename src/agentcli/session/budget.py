"""A session's cost budget, kept in the store's ``session:<id>`` spend counter, so every
process that runs the session's turns enforces one budget (``SessionManager.max_session_cost``).
"""

from __future__ import annotations

import logging

from ..errors import BudgetExceededError
from ..messages import AgentResponse
from ..stores.base import SessionStore, session_scope

__all__ = ["check_session_budget", "record_session_spend"]

logger = logging.getLogger("agentcli.session")


async def check_session_budget(store: SessionStore, session_id: str, limit: float) -> None:
    """Refuse the turn (``BudgetExceededError``) if the session's answers cost ``limit``."""
    spent = await store.get_spend(session_scope(session_id))
    if spent >= limit:
        raise BudgetExceededError(
            "session", limit=limit, spent=spent, subject=f"session {session_id!r}"
        )


async def record_session_spend(
    store: SessionStore, session_id: str, response: AgentResponse
) -> None:
    """Add the stored answer's cost to the session's counter. A failure is logged, not raised:
    the answer is stored, and the turn is not undone for it."""
    usage = response.usage
    if usage is None or not usage.cost:
        return
    try:
        await store.add_spend(session_scope(session_id), usage.cost)
    except Exception:
        logger.exception("could not record the cost of a turn", extra={"session_id": session_id})
