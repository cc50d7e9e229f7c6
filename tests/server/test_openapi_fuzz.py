"""schemathesis against the service's own OpenAPI document, over real HTTP.

Every operation of the document (streaming ones included: the echo agent ends its streams at
once, so their status, headers and content type are checked like the rest) gets generated
requests, valid and not, and every built-in check but the two below.

Excluded, with what they found (reported; each line goes once its cause is fixed):

- ``positive_data_acceptance``: the document is looser than the server in two places. Session
  ids are documented as any 1-128 characters, but ``/``, ``\\``, control characters, ``.`` and
  ``..`` are refused (400 ``invalid_session_id``); and the OpenAI endpoints document fields of
  OpenAI's requests they refuse on purpose (``prediction``, ``prompt``: 400
  ``unsupported_parameter``).
- ``allow_header_conformance``: a 405 on ``/sessions/{session_id}`` says ``Allow: GET``, though
  ``DELETE`` is allowed too (Starlette names the methods of the first route of the path only).
- ``content_type_conformance`` for ``POST /v1/responses`` only: with ``"stream": true`` it
  answers ``text/event-stream``, which its 200 response does not document (only JSON).

The schema is read from the app itself (loading it from the running server through
``schemathesis.pytest.from_fixture`` fails under pytest 9.2: it reads ``Function._nodeid``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import (
    CheckFunction,
    allow_header_conformance,
    content_type_conformance,
    positive_data_acceptance,
)

from agentcli.server.app import create_app

from .running import RunningServer, running_server, server_settings

schema = schemathesis.openapi.from_dict(create_app(server_settings()).openapi())
EXCLUDED: list[CheckFunction] = [positive_data_acceptance, allow_header_conformance]
EXCLUDED_FOR: dict[tuple[str, str], list[CheckFunction]] = {
    ("POST", "/v1/responses"): [content_type_conformance],
}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server(agents=["echo"]) as running:
        yield running


@schema.parametrize()
# A fixed budget, not the Hypothesis profile's: the CI profile's 1,000 examples for each of
# ~20 operations would take many minutes; this takes well under a minute. Derandomized, so a
# run fails or passes the same way every time (a bigger budget, by hand, explores further).
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_every_operation_answers_as_documented(case: Case[Any], server: RunningServer) -> None:
    excluded = EXCLUDED + EXCLUDED_FOR.get((case.method.upper(), case.path), [])
    case.call_and_validate(base_url=server.url, excluded_checks=excluded)
