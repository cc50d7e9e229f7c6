"""Model text can never become terminal control."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentcli.cli.sanitize import MAX_SEQUENCE, StreamSanitizer, sanitize, sanitize_inline

# What must never survive: ESC, other C0 controls but \n and \t, DEL, C1, bidi controls and
# lone surrogates (no UTF-8 terminal or file can take one).
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text\twith tab\n", "plain text\twith tab\n"),
        ("a\x1b]52;c;ZXZpbA==\x07b", "ab"),  # clipboard write dropped
        ("a\x1b]52;c;ZXZpbA==\x1b\\b", "ab"),  # ... with the ST terminator
        ("\x1b]8;;https://x.example\x07link\x1b]8;;\x07!", "link (https://x.example)!"),
        ("\x1b]8;id=1;https://x.example\x1b\\unclosed", "unclosed (https://x.example)"),
        ("\x1b[2J\x1b[Hhome", "home"),
        ("\x1b[1;31mred\x1b[0m", "red"),
        ("\x1b]0;title\x07after", "after"),
        ("\x1bPq#0;2;0;0;0\x1b\\after", "after"),  # DCS (sixel)
        ("reset\x1bc!", "reset!"),
        ("charset\x1b(B!", "charset!"),
        ("\x9b2J\x9d52;c;x\x9cok", "ok"),  # 8-bit C1 forms
        ("nel\x85x", "nel<U+0085>x"),
        ("bell\x07bs\x08del\x7f", "bell␇bs␈del␡"),
        ("a\r\nb\rc", "a\nb\nc"),  # a line can't be overwritten
        ("\u202eevil\u202c", "<U+202E>evil<U+202C>"),
        ("\u2066iso\u2069", "<U+2066>iso<U+2069>"),
        ("lone \ud800 surrogate", "lone <U+D800> surrogate"),
        ("trailing\x1b", "trailing␛"),
        ("open\x1b]0;never ends", "open␛]0;never ends"),
        ("csi\x1b[12", "csi␛[12"),
        ("[link=https://x.example]markup[/link]", "[link=https://x.example]markup[/link]"),
        ("emoji 😀 and ümlaut", "emoji 😀 and ümlaut"),
    ],
)
def test_sanitize(text: str, expected: str) -> None:
    assert sanitize(text) == expected


def test_overlong_sequence_is_shown_not_swallowed() -> None:
    text = "\x1b]52;c;" + "A" * (MAX_SEQUENCE + 10) + "\x07tail"
    out = sanitize(text)
    assert out.startswith("␛]52;c;AAA")
    assert out.endswith("␇tail")
    assert not FORBIDDEN.search(out)


def test_sequences_split_across_chunks() -> None:
    machine = StreamSanitizer()
    pieces = [
        "ok \x1b",
        "]8;;https://",
        "x.example\x1b",
        "\\link\x1b]8",
        ";;\x07 \x1b[",
        "2J",
        "end\r",
    ]
    out = "".join(machine.feed(p) for p in pieces) + machine.close()
    assert out == "ok link (https://x.example) end\n"


def test_inline_is_one_line_and_short() -> None:
    assert sanitize_inline("a\nb\tc  d") == "a b c d"
    assert sanitize_inline("x" * 50, limit=10) == "x" * 9 + "…"


hostile_alphabet = st.sampled_from(
    [
        "\x1b",
        "[",
        "]",
        "8",
        ";",
        "\x07",
        "\\",
        "\x9b",
        "\x9d",
        "\x9c",
        "\r",
        "\n",
        "a",
        "2J",
        "52",
        "\u202e",
        "\udc80",
        "\x00",
        "\x7f",
        "P",
        "é",
    ]
)
hostile_text = st.lists(hostile_alphabet, max_size=60).map("".join)


@given(hostile_text | st.text(max_size=200))
def test_nothing_forbidden_survives(text: str) -> None:
    assert not FORBIDDEN.search(sanitize(text))


@given(hostile_text, st.lists(st.integers(min_value=0, max_value=60), max_size=6))
def test_chunking_does_not_change_the_result(text: str, cuts: list[int]) -> None:
    bounds = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True)]
    machine = StreamSanitizer()
    streamed = "".join(machine.feed(p) for p in pieces) + machine.close()
    assert streamed == sanitize(text)


# Cs: a lone surrogate is shown as <U+XXXX>, like the other characters no terminal takes.
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs")), max_size=200))
def test_ordinary_text_passes_unchanged(text: str) -> None:
    assert sanitize(text) == text
