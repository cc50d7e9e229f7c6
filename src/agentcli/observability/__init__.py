"""Error reporting (Sentry) and tracing (OpenTelemetry over OTLP/HTTP), both optional.

    from agentcli.observability import configure
    configure(load_settings())   # SENTRY_DSN, OTEL_EXPORTER_OTLP_ENDPOINT, ...

``agentcli serve`` and ``create_app`` call ``configure`` themselves. Each backend is an extra
(``agentcli[sentry]``, ``agentcli[otel]``) imported only when its setting is present; with
neither set, nothing is imported and every span is a no-op. Neither ever receives message
content: spans carry names, ids and token counts; error events carry exception types and
stacks, scrubbed of messages, request data and secrets.
"""

from __future__ import annotations

from ._setup import check, configure, flush, shutdown, traces_endpoint

__all__ = ["check", "configure", "flush", "shutdown", "traces_endpoint"]
