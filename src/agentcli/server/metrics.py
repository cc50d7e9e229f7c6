"""Prometheus metrics of one service process, in a registry of its own (one per app, so two
apps in a process, as in tests, never collide).

The specification's ``agent_requests_total``, ``agent_request_duration_seconds`` and
``agent_tokens_used_total``, plus errors by kind, cost in USD, context cleanups, active
sessions and streams, the time to a stream's first event, whether the last readiness check
passed, the time of each store operation, and turns refused by a cost budget. Labels are
bounded: the agent (served model name), the provider's model name (what it reports for
usage: one per model the agent uses), the endpoint's route template, the status class, the
store operation (a method of the store protocol), the budget's scope; never a session id, a
key id or a raw path.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ..messages import AgentResponse
from .errors import BUDGET_EXCEEDED
from .turns import LiveTurn

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# A store operation: a fraction of a millisecond in memory, a few on a network round trip,
# up to seconds while a lease is waited for or a server is failing over.
_STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
UNKNOWN_MODEL = "unknown"  # the model label of usage that names no model
ACTIVE_WINDOW = 300.0  # a session is active if it had a turn in the last five minutes


class Metrics:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._seen: dict[str, float] = {}  # session id -> last turn (bounded by pruning)
        r = self.registry
        self.requests = Counter(
            "agent_requests_total",
            "HTTP requests, by agent, endpoint template and status class",
            ("agent", "endpoint", "status"),
            registry=r,
        )
        self.duration = Histogram(
            "agent_request_duration_seconds",
            "HTTP request duration (for streams: until the stream ends)",
            ("agent", "endpoint"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "agent_tokens_used_total",
            "tokens used by turns, by agent, kind (input or output) and the provider's model",
            ("agent", "kind", "model"),
            registry=r,
        )
        self.errors = Counter(
            "agent_errors_total",
            "failed turns and requests, by error code",
            ("agent", "code"),
            registry=r,
        )
        self.cost = Counter(
            "agent_cost_usd_total",
            "cost of turns in USD, where the price is known, by agent and the provider's model",
            ("agent", "model"),
            registry=r,
        )
        self.cleanups = Counter(
            "agent_context_cleanups_total",
            "context cleanups that trimmed the window, by reason",
            ("agent", "reason"),
            registry=r,
        )
        self.active_sessions = Gauge(
            "agent_active_sessions",
            f"sessions with a turn in the last {ACTIVE_WINDOW:.0f} s (this process)",
            registry=r,
        )
        self.active_sessions.set_function(self._count_active)
        self.active_streams = Gauge(
            "agent_active_streams", "streams open to clients now", registry=r
        )
        self.first_event = Histogram(
            "agent_time_to_first_event_seconds",
            "from the request to the first event of the answer (streams)",
            ("agent", "endpoint"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self._add_operations(r)

    def _add_operations(self, r: CollectorRegistry) -> None:
        """What operators watch beyond requests and turns: readiness, the store, budgets."""
        self.ready = Gauge(
            "agent_ready",
            "1 when the last /readiness check passed, 0 when it failed (absent before the first)",
            registry=r,
        )
        self.store_seconds = Histogram(
            "agent_store_operation_seconds",
            "time of each call to the session store, by operation (append, read, lease, ...); "
            "failed calls included",
            ("operation",),
            buckets=_STORE_BUCKETS,
            registry=r,
        )
        self.budget_rejections = Counter(
            "agent_budget_rejections_total",
            "turns refused because a cost budget was spent, by agent and scope (session or key)",
            ("agent", "scope"),
            registry=r,
        )

    def turn_finished(self, agent: str, session_id: str, response: AgentResponse) -> None:
        """Count what a completed turn used."""
        self._seen[session_id] = self._clock()
        usage = response.usage
        if usage is not None:
            model = usage.model or UNKNOWN_MODEL
            if usage.input_tokens:
                self.tokens.labels(agent, "input", model).inc(usage.input_tokens)
            if usage.output_tokens:
                self.tokens.labels(agent, "output", model).inc(usage.output_tokens)
            if usage.cost:
                self.cost.labels(agent, model).inc(usage.cost)
        cleanup = response.cleanup
        if cleanup is not None and cleanup.trimmed:
            self.cleanups.labels(agent, cleanup.reason).inc()

    def turn_ended(self, turn: LiveTurn) -> None:
        """Count a turn once, however it ended and whoever was listening."""
        response = turn.response
        if response is not None:
            self.turn_finished(turn.model, turn.session_id, response)
        elif turn.failure is not None:
            self.turn_failed(turn.model, turn.session_id, turn.failure.code)

    def turn_failed(self, agent: str, session_id: str, code: str) -> None:
        self._seen[session_id] = self._clock()
        self.errors.labels(agent, code).inc()
        if code == BUDGET_EXCEEDED:
            # A turn that started is refused only by its session's budget: the key's is
            # checked before a turn starts (``budget_refused(agent, "key")``).
            self.budget_refused(agent, "session")

    def budget_refused(self, agent: str, scope: str) -> None:
        self.budget_rejections.labels(agent, scope).inc()

    def _count_active(self) -> float:
        cutoff = self._clock() - ACTIVE_WINDOW
        for session_id in [s for s, at in self._seen.items() if at < cutoff]:
            del self._seen[session_id]
        return float(len(self._seen))
