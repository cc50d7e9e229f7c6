"""The environment variables agentcli reads: ``AGENTCLI_<FIELD>``, or a field's own aliases,
and ``<NAME>_FILE`` for each secret that may come from a file."""

from __future__ import annotations

from pydantic import AliasChoices

from agentcli import config
from agentcli.config import Settings

__all__ = ["SECRET_SETTINGS", "setting_env_names"]

# The secret settings a deployment passes (never written into a manifest or compose file).
SECRET_SETTINGS = frozenset(
    {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AGENTCLI_API_KEYS", "AGENTCLI_STORE_URL"}
    | {"AGENTCLI_REDIS_URL", "AGENTCLI_STORE_PASSWORD", "SENTRY_DSN"}
)


def setting_env_names() -> frozenset[str]:
    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
        else:
            names.add(f"AGENTCLI_{name.upper()}")
    # Each secret may come from a file instead: <NAME>_FILE holds its path.
    secret_files: dict[str, str] = getattr(config, "SECRET_FILE_VARIABLES", {})
    names.update(f"{variable}_FILE" for variable in secret_files.values())
    return frozenset(names)
