"""The fenced code blocks of an answer, for ``run -x`` and ``/copy``.

Parsed with markdown-it-py (rich's own Markdown parser, so no new dependency) under the
CommonMark rules: fences of three or more backticks or tildes, closed by a fence of the same
kind at least as long, also inside lists and quotes. An unclosed fence runs to the end of the
text, as it does when a streamed answer was cut off. Indented code is not a fenced block.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CodeBlock", "code_blocks", "extracted_code"]


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """One fenced block: its language (the info string's first word, maybe empty) and code."""

    language: str
    code: str

    @property
    def line_count(self) -> int:
        return len(self.code.splitlines())


def code_blocks(text: str) -> list[CodeBlock]:
    """The fenced code blocks of ``text``, in order, their contents exactly as written."""
    if "```" not in text and "~~~" not in text:
        return []  # the common case, without loading the parser
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    return [
        CodeBlock(language=(token.info.split() or [""])[0], code=token.content)
        for token in tokens
        if token.type == "fence"
    ]


def extracted_code(text: str) -> str:
    """What ``run -x`` prints: the blocks' contents, a blank line between two, or the whole
    text when it has no block. Ends with one newline."""
    blocks = code_blocks(text)
    if not blocks:
        return text.rstrip("\n") + "\n"
    return "\n\n".join(block.code.rstrip("\n") for block in blocks) + "\n"
