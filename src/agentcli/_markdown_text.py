"""Untrusted text placed in a Markdown export, unable to pass for the export's own structure.

Every piece is first made terminal-safe by ``sanitize`` (so ``cat`` of the file is safe too).
A message body then keeps its Markdown (lists, emphasis, code blocks) except what could forge
or hide the transcript around it: outside code blocks, a line that would be a heading, a
thematic break or setext underline, or the trim marker gets a leading backslash (``\\### #3``
shows as text), and HTML tags and comments are shown as text (``<!--`` could hide the
following turns, ``<h3>`` forge one). A code block is moved to the left margin so it ends
where this module thinks it ends, and one left open is closed.
"""

from __future__ import annotations

import re

from ._safe_text import sanitize

__all__ = ["code_span", "fenced", "markdown_body", "markdown_line"]

# Blockquote and list markers a line may start with (a heading inside them is still one).
_CONTAINERS = r"(?:[ \t]*(?:>|[-+*](?=[ \t])|\d{1,9}[.)](?=[ \t])))*[ \t]*"
_STRUCTURE = re.compile(
    rf"^(?P<prefix>{_CONTAINERS})"
    r"(?=#{1,6}(?:[ \t]|$)|(?P<rule>[-*_=])(?:[ \t]*(?P=rule))*[ \t]*$|✂)"
)
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# What opens raw HTML (CommonMark): a tag, a closing tag, a comment or declaration, a
# processing instruction. ``<U+009D>`` (a control made visible) and autolinks do not.
_HTML_START = re.compile(r"<(?=[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$)|/[A-Za-z]|[!?])")
_BACKTICKS = re.compile(r"`+")


def markdown_body(text: str) -> str:
    """A message's text as Markdown that stays inside its message (see the module)."""
    out: list[str] = []
    fence: str | None = None  # the open code block's fence
    indent = 0  # the open block's indentation, taken off its lines as a renderer would
    spans_trusted = True  # no backtick left unmatched earlier in this paragraph
    for line in sanitize(text).split("\n"):
        if fence is not None:
            if _closes(line, fence):
                out.append(fence)
                fence = None
            else:
                out.append(_dedent(line, indent))
            continue
        opening = _FENCE.match(line)
        if opening and not (opening["fence"][0] == "`" and "`" in opening["info"]):
            fence, indent = opening["fence"], len(opening["indent"])
            out.append(fence + opening["info"])
            continue
        spans_trusted = spans_trusted if line.strip() else True
        line, spans_trusted = _escape_html(line, spans_trusted)
        out.append(_STRUCTURE.sub(r"\g<prefix>\\", line, count=1))
    if fence is not None:  # an interrupted answer often stops inside a code block
        out.append(fence)
    return "\n".join(out)


def markdown_line(text: str) -> str:
    """Text for one line of the document (a title, a failure reason): flattened, HTML as text."""
    return _escape_html(" ".join(sanitize(text).split()), spans_trusted=True)[0]


def code_span(text: str) -> str:
    """``text`` as one inline code span, whatever backticks or newlines it holds."""
    flat = " ".join(sanitize(text).split())
    ticks = "`" * (_longest_backticks(flat) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def fenced(text: str, info: str = "") -> list[str]:
    """``text`` in a code block whose fence no line of ``text`` can close."""
    safe = sanitize(text)
    fence = "`" * max(3, _longest_backticks(safe) + 1)
    return [f"{fence}{info}", safe, fence]


def _closes(line: str, fence: str) -> bool:
    match = _FENCE.match(line)
    return (
        match is not None
        and match["fence"][0] == fence[0]
        and len(match["fence"]) >= len(fence)
        and not match["info"].strip(" \t")
    )


def _dedent(line: str, indent: int) -> str:
    stripped = line.lstrip(" ")
    return line[min(indent, len(line) - len(stripped)) :]


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def _escape_html(line: str, spans_trusted: bool) -> tuple[str, bool]:
    """``line`` with every ``<`` that could open a tag or comment escaped, except inside an
    inline code span (where a backslash would show). Spans are only trusted while every
    backtick so far in the paragraph was matched on its own line and none was escaped: else
    a renderer may pair them differently, so everything is escaped."""
    spans, all_matched = _code_spans(line)
    if not spans_trusted or "\\`" in line:
        spans, all_matched = [], False
    pieces: list[str] = []
    done = 0
    for span_start, span_end in spans:
        pieces.append(_HTML_START.sub(r"\\<", line[done:span_start]))
        pieces.append(line[span_start:span_end])
        done = span_end
    pieces.append(_HTML_START.sub(r"\\<", line[done:]))
    return "".join(pieces), all_matched


def _code_spans(line: str) -> tuple[list[tuple[int, int]], bool]:
    """Where the line's code spans are (a backtick run up to the next run as long), and
    whether every run found its match."""
    runs = list(_BACKTICKS.finditer(line))
    spans: list[tuple[int, int]] = []
    all_matched = True
    i = 0
    while i < len(runs):
        length = len(runs[i][0])
        closer = next((j for j in range(i + 1, len(runs)) if len(runs[j][0]) == length), None)
        if closer is None:
            all_matched = False
            i += 1
        else:
            spans.append((runs[i].start(), runs[closer].end()))
            i = closer + 1
    return spans, all_matched
