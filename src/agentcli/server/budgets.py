"""An API key's daily cost budget (``AGENTCLI_MAX_KEY_COST_PER_DAY``), kept in the store.

Each key has a spend counter per UTC day (``key:<key id>:<YYYY-MM-DD>``, lapsing two days after
its last increment), so every replica on one store enforces one budget. A turn is refused with
402 (``budget_exceeded``) before it starts once the key's spend today has reached the budget;
after a turn, the answer's ``usage.cost`` is added before the client sees the answer. The
check is not a reservation: turns the key starts at once may all pass it, so a key can end
its day over the budget by what its turns in flight cost.

The key is the caller's key id (``auth.Principal``, derived from the key's digest), never the
key itself; with no keys configured every caller is ``anonymous`` and shares one budget. The
session's own budget (``AGENTCLI_MAX_SESSION_COST``) is the ``SessionManager``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..errors import BudgetExceededError
from ..messages import AgentResponse
from ..stores.base import SessionStore, key_day_scope
from .metrics import Metrics

if TYPE_CHECKING:
    from .turns import LiveTurn

__all__ = ["DAY_COUNTER_TTL", "KeyBudget"]

logger = logging.getLogger("agentcli.server")

DAY_COUNTER_TTL = 2 * 86_400.0  # a day's counter outlives its day, for late turns and operators


def _utc_now() -> datetime:
    return datetime.now(UTC)


class KeyBudget:
    """The daily budget ``limit`` (USD; ``None``: none, and nothing is counted)."""

    __slots__ = ("_clock", "limit", "metrics", "store")

    def __init__(
        self,
        store: SessionStore,
        limit: float | None,
        metrics: Metrics,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.store = store
        self.limit = limit
        self.metrics = metrics
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self.limit is not None

    def scope(self, key_id: str) -> str:
        """The key's counter for today (UTC)."""
        return key_day_scope(key_id, self._clock().astimezone(UTC).date())

    async def check(self, key_id: str, agent: str) -> None:
        """Raise ``BudgetExceededError`` (402) if the key's spend today reached the budget."""
        limit = self.limit
        if limit is None:
            return
        now = self._clock().astimezone(UTC)
        spent = await self.store.get_spend(key_day_scope(key_id, now.date()))
        if spent >= limit:
            self.metrics.budget_refused(agent, "key")
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
            raise BudgetExceededError(
                "key", limit=limit, spent=spent, retry_after=(midnight - now).total_seconds()
            )

    async def record(self, key_id: str, response: AgentResponse) -> None:
        """Add the answer's cost to the key's counter for today. A failure is logged, not
        raised: the answer is stored, and the turn is not undone for it."""
        usage = response.usage
        if self.limit is None or usage is None or not usage.cost:
            return
        try:
            await self.store.add_spend(self.scope(key_id), usage.cost, ttl=DAY_COUNTER_TTL)
        except Exception:
            logger.exception("could not record the cost of a turn", extra={"key_id": key_id})

    async def record_turn(self, turn: LiveTurn, response: AgentResponse) -> None:
        """``record`` for the key that ran ``turn`` (``TurnRegistry``'s ``on_response``)."""
        await self.record(turn.owner, response)
