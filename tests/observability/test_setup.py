"""Switching on and off: nothing imported while off, a clear error for a missing extra, the
standard OTLP variables, and a public surface that matches its ``__all__``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import agentcli.observability
from agentcli import observability
from agentcli.config import load_settings
from agentcli.errors import MissingDependencyError
from agentcli.observability import tracing

TURN = """
import asyncio
from agentcli import EchoAgent, MemoryStore, SessionManager

async def main():
    answer = await SessionManager(EchoAgent(), store=MemoryStore()).chat("s1", "hello")
    assert answer.output

asyncio.run(main())
"""
APP = """
from agentcli.config import load_settings
from agentcli.server.app import create_app

create_app(load_settings(None, store_url="memory://"))
"""
# FastAPI imports the OpenTelemetry API (``fastapi.telemetry``) by itself when it is installed;
# the SDK, the exporter and Sentry are ours to import, and only when switched on.
OURS = ("sentry_sdk", "opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.proto")


def _loaded_after(script: str, tmp_path: Path) -> list[str]:
    """The modules of Sentry and OpenTelemetry loaded after ``script``, in a new interpreter."""
    probe = (
        f"{script}\nimport sys\n"
        "print(sorted(m for m in sys.modules if m.startswith(('sentry_sdk', 'opentelemetry'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYDANTIC_DISABLE_PLUGINS": "1"},
        check=True,
        timeout=120,
    )
    loaded: list[str] = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    return loaded


def test_a_turn_imports_neither_backend_while_off(tmp_path: Path) -> None:
    assert _loaded_after(TURN, tmp_path) == []


def test_the_app_imports_neither_backend_while_off(tmp_path: Path) -> None:
    loaded = _loaded_after(APP, tmp_path)
    assert [m for m in loaded if m.startswith(OURS)] == []


def test_spans_are_no_ops_while_off() -> None:
    assert not tracing.enabled()
    started = tracing.start("anything", {"a": 1})
    assert started is tracing.NOOP
    step = object()
    assert started.within(step) is step  # type: ignore[arg-type]  # no wrapper while off
    with pytest.raises(KeyError):
        _fail_in_a_span()


def _fail_in_a_span() -> None:
    with tracing.span("block") as block:
        assert block is tracing.NOOP
        raise KeyError("x")


def test_a_missing_extra_is_named_with_its_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)  # as if not installed
    settings = load_settings(None, sentry_dsn="http://key@127.0.0.1:9/1")
    with pytest.raises(MissingDependencyError, match=r"pip install 'agentcli\[sentry\]'"):
        observability.configure(settings)
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk", None)
    tracing_on = load_settings(None, otel_endpoint="http://127.0.0.1:9/v1/traces")
    with pytest.raises(MissingDependencyError, match=r"pip install 'agentcli\[otel\]'"):
        observability.check(tracing_on)
    assert not tracing.enabled()


def test_the_standard_otlp_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert observability.traces_endpoint(load_settings(None)) is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert observability.traces_endpoint(load_settings(None)) == "http://collector:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other:4318/custom")
    assert observability.traces_endpoint(load_settings(None)) == "http://other:4318/custom"


def test_error_types_are_class_names_never_messages() -> None:
    assert tracing.error_type(ValueError("secret text")) == "ValueError"
    assert tracing.error_type(MissingDependencyError("x", "y")) == (
        "agentcli.errors.MissingDependencyError"
    )


def test_the_exports_match_all() -> None:
    public = {n for n in vars(agentcli.observability) if not n.startswith("_")}
    modules = {"annotations", "reporting", "tracing"}  # ``__future__``, submodules
    assert public - modules == set(agentcli.observability.__all__)
