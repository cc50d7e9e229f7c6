"""The @tool decorator (schemas, validation, sync and async) and run_tool_calls."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from agentcli.messages import ToolCall, check_storable
from agentcli.tools import (
    FunctionTool,
    Tool,
    ToolArgumentsError,
    ToolError,
    run_tool_calls,
    storable_result,
    tool,
    tools_by_name,
)


class Point(BaseModel):
    x: int
    y: int = 0


def call(name: str, arguments: str = "{}", call_id: str | None = None) -> ToolCall:
    return ToolCall(id=call_id or f"call_{name}", name=name, arguments=arguments)


# ----------------------------------------------------------------------------- schemas


def test_schema_of_required_and_default_parameters() -> None:
    @tool
    def add(a: int, b: int = 2) -> int:
        """Add two integers."""
        return a + b

    assert add.name == "add"
    assert add.description == "Add two integers."
    assert add.parameters == {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer", "default": 2}},
        "required": ["a"],
        "additionalProperties": False,
    }


def test_schema_of_optional_literal_list_and_model() -> None:
    @tool
    def plot(
        points: list[Point],
        ids: list[int],
        mode: Literal["line", "bar"] = "line",
        title: str | None = None,
    ) -> str:
        return "ok"

    props = plot.parameters["properties"]
    assert props["points"] == {"type": "array", "items": {"$ref": "#/$defs/Point"}}
    assert plot.parameters["$defs"]["Point"]["required"] == ["x"]
    assert props["ids"] == {"type": "array", "items": {"type": "integer"}}
    assert props["mode"] == {"type": "string", "enum": ["line", "bar"], "default": "line"}
    assert props["title"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert plot.parameters["required"] == ["points", "ids"]


def test_descriptions_from_google_docstring_and_annotated_field() -> None:
    @tool
    async def search(
        query: str,
        limit: Annotated[int, Field(description="from Field", ge=1)] = 10,
        exact: bool = False,
    ) -> list[str]:
        """Search the notes.

        Finds notes whose text matches.

        Args:
            query (str): What to look for,
                in plain words.
            limit: from the docstring (Field wins)
            exact: Match whole words only.

        Returns:
            The matching notes.
        """
        return []

    assert search.description == "Search the notes.\n\nFinds notes whose text matches."
    props = search.parameters["properties"]
    assert props["query"]["description"] == "What to look for, in plain words."
    assert props["limit"] == {
        "type": "integer",
        "minimum": 1,
        "default": 10,
        "description": "from Field",
    }
    assert props["exact"]["description"] == "Match whole words only."


def test_descriptions_from_sphinx_docstring() -> None:
    @tool
    def greet(name: str) -> str:
        """Greet someone.

        :param name: Who to greet.
        :returns: the greeting
        """
        return f"hello {name}"

    assert greet.description == "Greet someone."
    assert greet.parameters["properties"]["name"]["description"] == "Who to greet."


def test_name_and_description_override() -> None:
    @tool(name="sum-two", description="Adds.")
    def add(a: int, b: int) -> int:
        """Not this."""
        return a + b

    assert isinstance(add, FunctionTool)
    assert (add.name, add.description) == ("sum-two", "Adds.")
    assert add(1, 2) == 3  # the function stays callable


def test_provider_schemas() -> None:
    @tool
    def ping() -> str:
        """Answer pong."""
        return "pong"

    empty = {"type": "object", "properties": {}, "additionalProperties": False}
    assert ping.parameters == empty
    assert ping.openai_schema() == {
        "type": "function",
        "function": {"name": "ping", "description": "Answer pong.", "parameters": empty},
    }
    assert ping.anthropic_schema() == {
        "name": "ping",
        "description": "Answer pong.",
        "input_schema": empty,
    }


def test_parameter_names_that_shadow_basemodel_attributes() -> None:
    @tool
    def store(json: str, schema: int = 1) -> str:
        return f"{json}:{schema}"

    assert set(store.parameters["properties"]) == {"json", "schema"}


def untyped(a, b: int) -> int:  # type: ignore[no-untyped-def]
    return int(b)


def star_args(*values: int) -> int:
    return sum(values)


def star_kwargs(**values: int) -> int:
    return sum(values.values())


def field_default(a: int = Field(default=1)) -> int:
    return a


def unresolved(a: Missing) -> int:  # type: ignore[name-defined]  # noqa: F821
    return 0


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (untyped, "parameter 'a' has no type annotation"),
        (star_args, "*values cannot be described"),
        (star_kwargs, "**values cannot be described"),
        (field_default, "Annotated[T, Field(...)]"),
        (unresolved, "cannot read the signature's type annotations"),
    ],
)
def test_bad_signatures_fail_at_decoration(fn: Any, message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        tool(fn)


def test_invalid_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="invalid tool name"):
        tool(name="has space")(untyped_free)


def untyped_free() -> None:
    return None


# ----------------------------------------------------------------------------- calling


async def test_sync_runs_in_a_thread_and_async_on_the_loop() -> None:
    loop_thread = threading.get_ident()

    @tool
    def sync_where() -> int:
        return threading.get_ident()

    @tool
    async def async_where() -> int:
        return threading.get_ident()

    assert int(await sync_where.call("")) != loop_thread
    assert int(await async_where.call({})) == loop_thread


async def test_results_are_text_and_other_values_json() -> None:
    @tool
    def text() -> str:
        return "plain «text»"

    @tool
    def structured(p: Point) -> dict[str, Any]:
        return {"point": p, "none": None}

    assert await text.call("{}") == "plain «text»"
    assert await structured.call('{"p": {"x": 1}}') == '{"point":{"x":1,"y":0},"none":null}'


async def test_arguments_are_validated_and_coerced() -> None:
    @tool
    def repeat(word: str, times: int = 1, /) -> str:
        return word * times

    assert await repeat.call('{"word": "ab", "times": "3"}') == "ababab"
    assert await repeat.call({"word": "x"}) == "x"
    with pytest.raises(ToolArgumentsError, match="times: Input should be a valid integer"):
        await repeat.call('{"word": "x", "times": "many"}')
    with pytest.raises(ToolArgumentsError, match="word: Field required"):
        await repeat.call("{}")
    with pytest.raises(ToolArgumentsError, match="extra: Extra inputs are not permitted"):
        await repeat.call('{"word": "x", "extra": 1}')
    with pytest.raises(ToolArgumentsError, match="not valid JSON"):
        await repeat.call('{"word": ')
    with pytest.raises(ToolArgumentsError, match="must be a JSON object, not list"):
        await repeat.call("[1, 2]")


async def test_function_defaults_apply_as_written() -> None:
    marker: list[int] = []

    @tool
    def keep(items: list[int] = marker) -> bool:
        return items is marker

    assert await keep.call("{}") == "true"


async def test_callable_object_with_async_call() -> None:
    class Counter:
        def __init__(self) -> None:
            self.count = 0

        async def __call__(self, step: int) -> int:
            self.count += step
            return self.count

    counter = tool(name="count")(Counter())
    assert await counter.call('{"step": 2}') == "2"


# ----------------------------------------------------------------------------- run_tool_calls


async def test_failures_become_results_the_model_can_read() -> None:
    @tool
    def broken(x: int) -> int:
        raise ValueError(f"bad x {x}")

    @tool
    def polite() -> str:
        raise ToolError("the file is locked; try later")

    @tool
    async def own_timeout() -> str:
        raise TimeoutError("upstream took too long")

    tools = tools_by_name([broken, polite, own_timeout])
    results = await run_tool_calls(
        tools,
        [
            call("broken", '{"x": 7}'),
            call("broken", '{"x": "seven"}', "c2"),
            call("broken", "{not json", "c3"),
            call("polite"),
            call("nope"),
            call("own_timeout"),
        ],
    )
    assert [m.content for m in results] == [
        "ValueError: bad x 7",
        "invalid arguments for tool 'broken': x: Input should be a valid integer, "
        "unable to parse string as an integer",
        "arguments are not valid JSON (Expecting property name enclosed in double quotes:"
        " line 1 column 2 (char 1))",
        "the file is locked; try later",
        "unknown tool 'nope'; available tools: broken, own_timeout, polite",
        "TimeoutError: upstream took too long",
    ]
    assert all(m.role == "tool" and m.is_error for m in results)


async def test_an_output_that_starts_with_error_is_not_a_failure() -> None:
    @tool
    def last_log_line() -> str:
        return "error: disk full"

    @tool
    def silent() -> str:
        raise ToolError  # no words: the result still says which tool failed

    (line, quiet) = await run_tool_calls(
        tools_by_name([last_log_line, silent]), [call("last_log_line"), call("silent")]
    )
    assert (line.content, line.is_error) == ("error: disk full", False)
    assert (quiet.content, quiet.is_error) == ("tool 'silent' failed", True)


async def test_results_follow_the_order_of_calls() -> None:
    second_done = asyncio.Event()

    @tool
    async def slow() -> str:
        await second_done.wait()  # finishes last, but is first in the list
        return "slow"

    @tool
    async def fast() -> str:
        second_done.set()
        return "fast"

    results = await run_tool_calls(
        tools_by_name([slow, fast]),
        [call("slow", call_id="a"), call("fast", call_id="b")],
        timeout=5,
    )
    assert [(m.tool_call_id, m.name, m.content) for m in results] == [
        ("a", "slow", "slow"),
        ("b", "fast", "fast"),
    ]


async def test_async_calls_run_concurrently() -> None:
    a_started, b_started = asyncio.Event(), asyncio.Event()

    # Each waits for the other to start: run one after another, they would time out.
    @tool
    async def a() -> str:
        a_started.set()
        await b_started.wait()
        return "a"

    @tool
    async def b() -> str:
        b_started.set()
        await a_started.wait()
        return "b"

    results = await run_tool_calls(tools_by_name([a, b]), [call("a"), call("b")], timeout=5)
    assert [m.content for m in results] == ["a", "b"]


async def test_sync_calls_run_in_parallel_threads() -> None:
    barrier = threading.Barrier(2, timeout=5)

    @tool
    def left() -> int:
        return barrier.wait()  # raises BrokenBarrierError unless both threads arrive

    @tool
    def right() -> int:
        return barrier.wait()

    results = await run_tool_calls(tools_by_name([left, right]), [call("left"), call("right")])
    assert sorted(m.content for m in results) == ["0", "1"]


async def test_timeout_is_a_result_and_spares_other_calls() -> None:
    @tool
    async def hang() -> str:
        await asyncio.Event().wait()
        return "never"

    @tool
    def quick() -> str:
        return "done"

    results = await run_tool_calls(
        tools_by_name([hang, quick]), [call("hang"), call("quick")], timeout=0.05
    )
    assert [(m.content, m.is_error) for m in results] == [
        ("tool 'hang' did not finish within 0.05 s", True),
        ("done", False),
    ]


@pytest.mark.parametrize("count", [1, 2])
async def test_cancellation_propagates_and_cancels_every_call(count: int) -> None:
    started = [asyncio.Event() for _ in range(count)]
    cancelled: list[int] = []

    @tool
    async def block(index: int) -> str:
        started[index].set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(index)
            raise
        return "never"

    calls = [call("block", f'{{"index": {i}}}', f"c{i}") for i in range(count)]
    task = asyncio.create_task(run_tool_calls(tools_by_name([block]), calls))
    for event in started:
        await event.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(cancelled) == list(range(count))


async def test_a_tool_that_raises_cancelled_error_itself_is_only_a_failure() -> None:
    @tool
    async def gives_up() -> str:
        raise asyncio.CancelledError

    @tool
    def fine() -> str:
        return "fine"

    for calls in ([call("gives_up")], [call("gives_up"), call("fine")]):
        results = await run_tool_calls(tools_by_name([gives_up, fine]), calls)
        assert results[0].content == "tool 'gives_up' was cancelled"
        assert results[0].is_error


async def test_results_are_made_storable_and_capped() -> None:
    @tool
    def dirty() -> str:
        return "a\x00b\ud800c"

    @tool
    def long(n: int) -> str:
        return "x" * n

    tools = tools_by_name([dirty, long])
    (clean,) = await run_tool_calls(tools, [call("dirty")])
    assert clean.content == "a\ufffdb\ufffdc"
    assert check_storable(clean.content) == clean.content

    (cut,) = await run_tool_calls(tools, [call("long", '{"n": 25}')], max_result_chars=10)
    assert cut.content == "x" * 10 + "\n[truncated: 15 more characters not shown]"
    (whole,) = await run_tool_calls(tools, [call("long", '{"n": 200001}')], max_result_chars=None)
    assert len(whole.content) == 200_001
    (default,) = await run_tool_calls(tools, [call("long", '{"n": 100001}')])
    assert default.content.startswith("x" * 100_000 + "\n[truncated: 1 more")


def test_storable_result_leaves_clean_text_alone() -> None:
    assert storable_result("fine ✓") == "fine ✓"


async def test_no_calls_and_duplicate_names() -> None:
    assert await run_tool_calls({}, []) == []

    @tool
    def twin() -> str:
        return ""

    with pytest.raises(ValueError, match="two tools are named 'twin'"):
        tools_by_name([twin, twin])


async def test_a_hand_written_tool_subclass() -> None:
    class Upper(Tool):
        def __init__(self) -> None:
            super().__init__(
                name="upper",
                description="Upper-case a text.",
                parameters={"type": "object", "properties": {"text": {"type": "string"}}},
            )

        async def run(self, arguments: dict[str, Any]) -> object:
            return str(arguments["text"]).upper()

    (result,) = await run_tool_calls({"upper": Upper()}, [call("upper", '{"text": "hi"}')])
    assert result.content == "HI"
    assert repr(Upper()) == "Upper(name='upper')"
