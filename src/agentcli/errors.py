"""The one error tree of agentcli.

``AgentCLIError``
 ├── ``UserError``            the caller asked for something invalid; fix the input
 │    ├── ``InvalidInputError``     text that cannot be stored, input over the size limit
 │    ├── ``ConfigError``           a bad setting, a malformed ``.env`` line, an unknown agent spec
 │    ├── ``SessionNotFoundError``  no session with that id
 │    ├── ``MissingDependencyError`` an optional extra is not installed (names the install command)
 │    └── ``BudgetExceededError``   a cost budget (per session, per API key a day) is spent
 └── ``RuntimeFailure``        something failed while running; the input may be fine
      ├── ``StoreError``            the session store could not read or write
      │    └── ``SessionConflictError`` an append expected another last ``seq`` (a lost lease)
      ├── ``SessionBusyError``      another turn holds the session's lease; retry later
      ├── ``AgentError``            the agent raised or returned an error
      └── ``ProviderError``         a model provider failed (carries status and retry hint)
           ├── ``AuthenticationError``   bad or missing key
           ├── ``ModelNotFoundError``    unknown model name
           ├── ``RateLimitError``        429; ``retry_after`` seconds when the server said
           ├── ``ContextLengthError``    the request is larger than the model's window
           ├── ``ProviderTimeoutError``  no answer or a stalled stream
           └── ``ProviderUnavailableError`` connection refused, 5xx
"""

from __future__ import annotations

__all__ = [
    "AgentCLIError",
    "AgentError",
    "AuthenticationError",
    "BudgetExceededError",
    "ConfigError",
    "ContextLengthError",
    "InvalidInputError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "ProviderError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "RateLimitError",
    "RuntimeFailure",
    "SessionBusyError",
    "SessionConflictError",
    "SessionNotFoundError",
    "StoreError",
    "UserError",
]


class AgentCLIError(Exception):
    """Base of every error agentcli raises on purpose."""


class UserError(AgentCLIError):
    """The caller's input or configuration is wrong; retrying unchanged will fail again."""


class InvalidInputError(UserError, ValueError):
    """Input that cannot be accepted: too long, or text that cannot be stored faithfully."""


class ConfigError(UserError):
    """A setting, environment variable, ``.env`` line or agent spec is invalid."""


class SessionNotFoundError(UserError, KeyError):
    """No session has the given id."""

    def __init__(self, session_id: str) -> None:
        super().__init__(session_id)
        self.session_id = session_id

    def __str__(self) -> str:
        return f"no session with id {self.session_id!r}"


class MissingDependencyError(UserError, ImportError):
    """An optional extra is needed; the message names the install command."""

    def __init__(self, feature: str, extra: str) -> None:
        self.feature = feature
        self.extra = extra
        super().__init__(f"{feature} needs an optional extra: pip install 'agentcli[{extra}]'")


class BudgetExceededError(UserError):
    """A cost budget is spent, so the turn was refused before the agent was called (nothing
    of it was stored). ``scope`` is ``"session"`` (``AGENTCLI_MAX_SESSION_COST``) or ``"key"``
    (``AGENTCLI_MAX_KEY_COST_PER_DAY``, per API key and UTC day); ``limit`` and ``spent`` are
    in USD. ``retry_after`` (seconds) is when the budget renews, when it does."""

    def __init__(
        self,
        scope: str,
        *,
        limit: float,
        spent: float,
        subject: str = "",
        retry_after: float | None = None,
    ) -> None:
        what = {
            "session": "the session's cost budget",
            "key": "the API key's daily cost budget",
        }.get(scope, f"the {scope} cost budget")
        about = f" ({subject})" if subject else ""
        advice = {
            "session": "start a new session, or raise AGENTCLI_MAX_SESSION_COST",
            "key": "it renews at 00:00 UTC",
        }.get(scope, "raise the budget")
        super().__init__(f"{what}{about} is spent: ${_usd(spent)} of ${_usd(limit)}; {advice}")
        self.scope = scope
        self.limit = limit
        self.spent = spent
        self.retry_after = retry_after


def _usd(amount: float) -> str:
    """Dollars with at least two decimals and no float noise (``0.0042``, ``1.50``)."""
    text = f"{amount:.6f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"{whole}.{cents.ljust(2, '0')}"


class RuntimeFailure(AgentCLIError):
    """Something failed while running: a store, an agent or a provider."""


class StoreError(RuntimeFailure):
    """The session store could not complete a read or write."""


class SessionConflictError(StoreError):
    """An append named the ``seq`` it expected to follow, and the session had moved on: the
    writer lost its lease and someone else's turn was stored in between. Nothing was written."""

    def __init__(self, session_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"session {session_id!r} changed while this turn ran (expected last message "
            f"#{expected}, found #{actual}); nothing was written, reload and retry"
        )
        self.session_id = session_id
        self.expected = expected
        self.actual = actual


class SessionBusyError(RuntimeFailure):
    """Another turn (in this process or another) holds the session's lease.

    ``retry_after`` is a hint in seconds: when the holder's lease would expire at the latest.
    """

    def __init__(self, session_id: str, *, waited: float, retry_after: float | None = None) -> None:
        hint = f"; retry in about {retry_after:.0f} s" if retry_after else "; retry shortly"
        super().__init__(
            f"session {session_id!r} is busy: another turn is running on it "
            f"(waited {waited:.1f} s){hint}"
        )
        self.session_id = session_id
        self.waited = waited
        self.retry_after = retry_after


class AgentError(RuntimeFailure):
    """The agent raised, or reported an error in its response."""


class ProviderError(AgentError):
    """A model provider failed. ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status


class AuthenticationError(ProviderError):
    """The provider rejected the API key (or none was configured)."""


class ModelNotFoundError(ProviderError):
    """The provider does not know the model name."""


class RateLimitError(ProviderError):
    """The provider is rate limiting; ``retry_after`` is in seconds when known."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after = retry_after


class ContextLengthError(ProviderError):
    """The request did not fit in the model's context window."""


class ProviderTimeoutError(ProviderError):
    """The provider did not answer in time, or a stream stalled."""


class ProviderUnavailableError(ProviderError):
    """The provider could not be reached or answered with a server error."""
