"""An agent the option tests load by file: it answers with the request options it was given."""

from __future__ import annotations

import json

from agentcli.agent import AgentInterface
from agentcli.messages import AgentContext, AgentResponse


class OptionsAgent(AgentInterface):
    """Answers ``options: {...}``, the turn's ``AgentContext.metadata["options"]`` as JSON."""

    name = "options"

    async def process(self, context: AgentContext) -> AgentResponse:
        options = context.metadata.get("options", {})
        return AgentResponse(output=f"options: {json.dumps(options, sort_keys=True)}")
