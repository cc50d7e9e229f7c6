"""Settings: the environment first, then a ``.env`` file, then defaults.

The specification's names work as written (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``,
``DEFAULT_MODEL``), as do the SDKs' own ``OPENAI_BASE_URL`` and ``ANTHROPIC_BASE_URL``; our own
settings are ``AGENTCLI_*``. Secrets are ``SecretStr``: they print as ``**********``.

Each secret may instead come from a file named by ``<NAME>_FILE`` (``OPENAI_API_KEY_FILE``),
the convention of the official database images, for Kubernetes and Docker secrets: the file's
text with one trailing newline removed, read when settings load. ``AGENTCLI_API_KEYS_FILE`` is
the exception: a list of keys read by the server (``server/auth.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ._settings_checks import (
    check_env_file,
    describe_problems,
    http_url_or_none,
    json_string_list,
    usable_path,
)
from .context import (
    DEFAULT_CLEANUP_TARGET,
    DEFAULT_CLEANUP_THRESHOLD,
    DEFAULT_MIN_MESSAGES_TO_KEEP,
)
from .errors import ConfigError

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

__all__ = ["Settings", "default_data_dir", "load_settings"]


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("agentcli", appauthor=False))


# Ollama's OpenAI-compatible endpoint on this machine; the provider table reads it from here.
OLLAMA_DEFAULT_BASE_URL = "http://127.0.0.1:11434/v1"


class Settings(BaseSettings):
    """Every setting agentcli reads. Construct with ``load_settings()`` for clear errors."""

    model_config = SettingsConfigDict(
        env_prefix="AGENTCLI_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        allow_inf_nan=False,  # a timeout of inf or nan would wait forever
    )

    # Provider keys and endpoints: the specification's and the SDKs' own names.
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    anthropic_api_key: SecretStr | None = Field(None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(None, validation_alias="ANTHROPIC_BASE_URL")
    ollama_base_url: str = Field(
        OLLAMA_DEFAULT_BASE_URL,
        validation_alias=AliasChoices("AGENTCLI_OLLAMA_BASE_URL", "OLLAMA_BASE_URL"),
    )
    default_model: str | None = Field(
        None, validation_alias=AliasChoices("DEFAULT_MODEL", "AGENTCLI_DEFAULT_MODEL")
    )

    # Where sessions live.
    data_dir: Path = Field(default_factory=default_data_dir)
    # A secret: database URLs carry passwords. Default: a SQLite file in data_dir.
    store_url: SecretStr | None = None
    # Put into a redis:// or postgresql:// store URL that has no password of its own, so the
    # URL can sit in a ConfigMap and only the password in a Secret.
    store_password: SecretStr | None = None
    # Redis and PostgreSQL stores delete a session this many seconds after its last activity,
    # whole (0: never). The local SQLite store keeps sessions until they are deleted.
    session_ttl: float = Field(3600.0, ge=0, le=10 * 365 * 86_400)
    store_pool_size: int = Field(10, ge=1, le=1000)  # connections per process (Redis, PostgreSQL)
    # Redis for the service's shared state (turn streams, rate limits) when the store is not
    # Redis; with a redis:// store, that store's server is used.
    redis_url: SecretStr | None = None

    # The context window policy.
    context_window: int | None = Field(None, gt=0, le=10**9)  # overrides the model's own
    cleanup_threshold: float = Field(DEFAULT_CLEANUP_THRESHOLD, gt=0, le=1)
    cleanup_target: float = Field(DEFAULT_CLEANUP_TARGET, gt=0, lt=1)
    min_messages_to_keep: int = Field(DEFAULT_MIN_MESSAGES_TO_KEEP, ge=0, le=10**6)
    pin_first_message: bool = False  # keep each session's first user message through cleanups
    # fifo trims the oldest exchanges; summarize replaces them with one summary, written by
    # summary_agent (an agent spec; none: the session's own agent) within summary_timeout.
    cleanup_strategy: Literal["fifo", "summarize"] = "fifo"
    summary_agent: str | None = None
    summary_timeout: float = Field(60.0, gt=0, le=3600)
    max_input_chars: int = Field(100_000, gt=0, le=10**9)

    # One turn at a time per session, across processes: the session lease.
    lease_ttl: float = Field(30.0, gt=0, le=86_400)  # how long a crashed holder blocks
    lease_wait: float = Field(30.0, ge=0, le=86_400)  # how long a turn waits for a busy session

    # Provider calls: one retry layer (the SDK's), bounded waits.
    request_timeout: float = Field(30.0, gt=0, le=3600)
    max_retries: int = Field(3, ge=0, le=100)
    max_retry_after: float = Field(20.0, ge=0, le=3600)
    stream_idle_timeout: float = Field(60.0, gt=0, le=3600)
    max_output_tokens: int | None = Field(None, gt=0, le=10**7)  # caps each answer (providers)
    # Anthropic prompt caching on the stable prefix (system prompt and the window's start).
    anthropic_prompt_cache: bool = True
    max_tool_rounds: int = Field(8, ge=1, le=1000)
    tool_timeout: float = Field(120.0, gt=0, le=86_400)  # seconds one tool call may run
    # JSON lists; NoDecode: our validator parses them, to say what a bad one should look like.
    mcp_servers: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # The web service (``agentcli serve``).
    api_keys: SecretStr | None = None  # comma-separated bearer keys clients must send
    api_keys_file: Path | None = None  # the same, one per line (a mounted secret)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)  # none: off
    max_request_bytes: int = Field(4 * 1024 * 1024, gt=0, le=1024**3)
    rate_limit_per_minute: int = Field(120, ge=0, le=10**9)  # per API key; 0 turns it off
    shutdown_grace: float = Field(25.0, ge=0, le=3600)  # seconds running turns get on SIGTERM
    stream_retention: float = Field(120.0, ge=0, le=86_400)  # replayable after a turn ends
    sse_keepalive: float = Field(15.0, gt=0, le=3600)  # comment lines while nothing happens

    # Cost budgets in USD (none: unlimited), checked before a turn starts and shared by every
    # process through the store: a session's total, and an API key's spend per UTC day.
    max_session_cost: float | None = Field(None, gt=0, le=10**9, allow_inf_nan=False)
    max_key_cost_per_day: float | None = Field(None, gt=0, le=10**9, allow_inf_nan=False)

    # Observability extras, off unless configured: Sentry (``agentcli[sentry]``) and
    # OpenTelemetry traces over OTLP/HTTP (``agentcli[otel]``), both under their own names.
    sentry_dsn: SecretStr | None = Field(None, validation_alias="SENTRY_DSN")
    sentry_environment: str | None = Field(None, validation_alias="SENTRY_ENVIRONMENT")
    otel_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "AGENTCLI_OTEL_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        ),
    )  # the full traces URL, e.g. http://collector:4318/v1/traces
    otel_service_name: str = Field("agentcli", validation_alias="OTEL_SERVICE_NAME")

    # Logging.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_format: Literal["text", "json"] = "text"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        secret_files = _SecretFiles(settings_cls, env_settings, dotenv_settings)
        return init_settings, secret_files, env_settings, dotenv_settings, file_secret_settings

    _paths = field_validator("data_dir", "api_keys_file", mode="before")(usable_path)
    _urls = field_validator(
        "openai_base_url",
        "anthropic_base_url",
        "otel_endpoint",
        "sentry_dsn",
        mode="before",
    )(http_url_or_none)
    _lists = field_validator("mcp_servers", "cors_origins", mode="before")(json_string_list)

    @field_validator("summary_agent", mode="after")
    @classmethod
    def _agent_spec(cls, value: str | None) -> str | None:
        """A spec that cannot name an agent is refused now, not at the first cleanup."""
        if value is None or not value.strip():
            return None
        from .agents.factory import parse_spec

        try:
            return parse_spec(value).text
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("ollama_base_url", mode="before")
    @classmethod
    def _ollama_url(cls, value: object) -> object:
        return http_url_or_none(value) or OLLAMA_DEFAULT_BASE_URL  # empty counts as unset

    @model_validator(mode="after")
    def _target_below_threshold(self) -> Settings:
        if self.cleanup_target >= self.cleanup_threshold:
            raise ValueError(
                f"AGENTCLI_CLEANUP_TARGET ({self.cleanup_target}) must be below "
                f"AGENTCLI_CLEANUP_THRESHOLD ({self.cleanup_threshold}): lower the target "
                "or raise the threshold"
            )
        return self

    @property
    def resolved_store_url(self) -> str:
        """The store URL (``AGENTCLI_STORE_PASSWORD`` put in), else the SQLite file's."""
        if self.store_url is not None and self.store_url.get_secret_value():
            return _with_password(self.store_url.get_secret_value(), self.store_password)
        return f"sqlite:///{self.data_dir / 'sessions.db'}"

    def redacted(self) -> dict[str, Any]:
        """Every setting, secrets shown only as set or not set (for ``agentcli config``)."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if name in ("store_url", "redis_url"):
                continue
            if isinstance(value, SecretStr):
                out[name] = "********** (set)" if value.get_secret_value() else "(empty)"
            elif value is None:
                out[name] = None
            elif isinstance(value, str | Path):  # a base URL may carry a password too
                out[name] = _redact_url(str(value))
            else:
                out[name] = value
        out["store_url"] = _redact_url(self.resolved_store_url)
        redis_url = self.redis_url.get_secret_value() if self.redis_url else ""
        out["redis_url"] = _redact_url(redis_url) if redis_url else None
        return out


# The secrets a ``<NAME>_FILE`` variable may hold instead, by field.
SECRET_FILE_VARIABLES = {
    "openai_api_key": "OPENAI_API_KEY",
    "anthropic_api_key": "ANTHROPIC_API_KEY",
    "store_url": "AGENTCLI_STORE_URL",
    "store_password": "AGENTCLI_STORE_PASSWORD",
    "redis_url": "AGENTCLI_REDIS_URL",
    "sentry_dsn": "SENTRY_DSN",
}
MAX_SECRET_FILE_BYTES = 64 * 1024


class _SecretFiles(PydanticBaseSettingsSource):
    """The secrets ``<NAME>_FILE`` variables name, from the environment or the ``.env`` file.

    Setting both ``NAME`` and ``NAME_FILE`` (in either place) is an error; an empty variable
    counts as unset.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], *layers: PydanticBaseSettingsSource
    ) -> None:
        super().__init__(settings_cls)
        self._layers = [layer for layer in layers if isinstance(layer, EnvSettingsSource)]

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every variable at once

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for field_name, variable in SECRET_FILE_VARIABLES.items():
            path = self._lookup(f"{variable}_FILE")
            if path is None:
                continue
            if self._lookup(variable) is not None:
                raise ConfigError(
                    f"both {variable} and {variable}_FILE are set: set only one of them"
                )
            found[field_name] = read_secret_file(f"{variable}_FILE", Path(path).expanduser())
        return found

    def _lookup(self, name: str) -> str | None:
        for layer in self._layers:
            value = layer.env_vars.get(name if layer.case_sensitive else name.lower())
            if value:
                return value
        return None


def read_secret_file(variable: str, path: Path) -> str:
    """The secret in ``path`` without one trailing newline; errors never show the content."""
    where = f"{variable} ({path})"
    if path.is_dir():
        raise ConfigError(f"{where} is a directory, not a file")
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot read {where}: {reason}") from None
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise ConfigError(f"{where} is larger than {MAX_SECRET_FILE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where} is not UTF-8 text") from None
    for newline in ("\r\n", "\n"):
        if text.endswith(newline):
            return text[: -len(newline)]
    return text


def _with_password(url: str, password: SecretStr | None) -> str:
    """``url`` with ``password`` (percent-encoded) put in, unless it has one or no server."""
    secret = password.get_secret_value() if password is not None else ""
    if not secret:
        return url
    from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    if not host or ":" in user or "password" in parse_qs(parts.query):
        return url
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(secret, safe='')}@{host}"))


def _redact_url(url: str) -> str:
    from ._redact import redact_url

    return redact_url(url)


def load_settings(env_file: Path | None = Path(".env"), **overrides: Any) -> Settings:
    """Build settings, turning validation failures into a ``ConfigError`` naming the variable."""
    if env_file is not None:
        check_env_file(env_file)
    try:
        settings = Settings(_env_file=env_file, **overrides)
    except ValidationError as exc:
        raise ConfigError(describe_problems(exc.errors(), variable_names())) from None
    check_store_urls(settings)
    return settings


def variable_names() -> dict[str, str]:
    """What to call each setting in a message, by field name and alias (lower case)."""
    names: dict[str, str] = {}
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else []
        choices = [alias] if isinstance(alias, str) else choices
        shown = choices[0] if choices else f"AGENTCLI_{field_name.upper()}"
        if len(choices) > 1:
            shown += f" (or {', '.join(choices[1:])})"
        for key in (field_name, *choices):
            names[key.lower()] = shown
    return names


def check_store_urls(settings: Settings) -> None:
    """Refuse a store or Redis URL the store would refuse, now, naming the variable (nothing
    connects; a missing extra is left for the command that needs it to report)."""
    from .stores import check_redis_url, check_store_url

    store_url = settings.store_url.get_secret_value() if settings.store_url else ""
    redis_url = settings.redis_url.get_secret_value().strip() if settings.redis_url else ""
    for variable, url, checked, check in (
        ("AGENTCLI_STORE_URL", store_url, settings.resolved_store_url, check_store_url),
        ("AGENTCLI_REDIS_URL", redis_url, redis_url, check_redis_url),
    ):
        try:
            if url:
                check(checked)  # the store URL with AGENTCLI_STORE_PASSWORD put in
        except ConfigError as exc:
            said = str(exc)
            if "://" not in url:  # not a URL at all: perhaps a bare password, never shown
                said = said.replace(url, "****")
            raise ConfigError(f"{variable}: {said}") from None
