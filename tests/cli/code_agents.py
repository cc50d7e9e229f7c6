"""An agent whose answers hold fenced code blocks, for ``run -x`` and ``/copy``; loaded by
file as a user would: ``--agent tests/cli/code_agents.py:CodeAgent``."""

from __future__ import annotations

from agentcli.agent import AgentInterface
from agentcli.messages import AgentContext, AgentResponse

CODE_ANSWER = (
    "Two ways:\n\n"
    "```python\n"
    "print('one')\n"
    "```\n\n"
    "and in the shell:\n\n"
    "~~~sh\n"
    "echo two\n"
    "ls -l\n"
    "~~~\n"
)


class CodeAgent(AgentInterface):
    """Answers ``CODE_ANSWER`` to anything but ``prose``, which gets text without code."""

    name = "code"

    async def process(self, context: AgentContext) -> AgentResponse:
        if context.input.strip() == "prose":
            return AgentResponse(output="roses are red\nviolets are blue")
        return AgentResponse(output=CODE_ANSWER)
