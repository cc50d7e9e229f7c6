"""What one service process holds: settings, the store, a session manager per served agent,
the API keys, the live turns, metrics, limits and the keys' budget, and (when configured) the
Redis it shares turns and limits through. Everything durable is in the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import Settings
from ..session import SessionManager
from ..stores.base import SessionStore
from .auth import KeyRing
from .errors import ApiError
from .limits import Limiter
from .metrics import Metrics
from .turns import TurnRegistry

if TYPE_CHECKING:
    from .budgets import KeyBudget
    from .shared import SharedState

__all__ = ["ServerState"]


@dataclass
class ServerState:
    settings: Settings
    store: SessionStore
    managers: dict[str, SessionManager]  # by served model name, in the order given
    keys: KeyRing
    turns: TurnRegistry
    metrics: Metrics
    limiter: Limiter
    shared: SharedState | None = None  # turns and limits shared with the other replicas
    budget: KeyBudget | None = None  # the API keys' daily cost budget, when one is set
    draining: bool = False
    problems: dict[str, str] = field(default_factory=dict)  # agent -> why it is not configured

    @property
    def default_model(self) -> str:
        return next(iter(self.managers))

    def manager_for(self, model: str | None) -> tuple[str, SessionManager]:
        """The served agent a request names (the first served one when it names none)."""
        name = model or self.default_model
        manager = self.managers.get(name)
        if manager is None:
            served = ", ".join(self.managers)
            raise ApiError(
                404,
                "model_not_found",
                f"model {name!r} is not served here; served: {served} (GET /v1/models)",
                param="model",
            )
        return name, manager

    def refuse_if_busy(self, session_id: str) -> None:
        """409 while this process runs a turn on the session. On other replicas the session's
        lease refuses the turn just as well (the server's managers never wait for it), a
        step later: this check only saves starting a turn that could not hold it."""
        if self.turns.running_for(session_id):
            raise ApiError(
                409,
                "session_busy",
                f"session {session_id!r} is busy: another turn is running on it; retry when it "
                "ends",
                "conflict_error",
                retry_after=1,
            )

    async def refuse_if_over_budget(self, key_id: str, agent: str) -> None:
        """402 (``BudgetExceededError``) if the key's spend today reached its daily budget."""
        if self.budget is not None:
            await self.budget.check(key_id, agent)

    def refuse_if_draining(self) -> None:
        if self.draining:
            raise ApiError(
                503,
                "server_shutting_down",
                "the server is shutting down; retry on another replica",
                "server_error",
                retry_after=1,
            )
