"""Model and user text is text, never terminal control: the one sanitiser.

Everything agentcli shows or writes that it did not write itself (model answers, tool
arguments and results, titles, error messages from providers) goes through ``sanitize`` or a
``StreamSanitizer`` first, on the terminal and in Markdown exports alike:

- escape sequences are removed: CSI (colours, cursor moves, ``ESC[2J``), OSC (window titles,
  ``OSC 52`` clipboard writes), DCS/SOS/PM/APC strings and two-character ``ESC`` sequences,
  in their 7-bit and 8-bit (C1) forms;
- an ``OSC 8`` hyperlink keeps its text and shows its target after it: ``text (https://...)``;
- other C0 controls become visible control pictures (``␛``, ``␇``), except newline and tab;
  ``\\r\\n`` becomes ``\\n`` and a lone ``\\r`` a newline, so a line cannot be overwritten;
- C1 controls (U+0080-U+009F) and bidi overrides and isolates (U+202A-U+202E, U+2066-U+2069)
  are shown as ``<U+XXXX>``, so a line cannot be reordered (Trojan Source); so are lone
  surrogates, which no UTF-8 terminal or file could take.

JSON keeps the text exactly (it must round-trip) but writes the same characters as ``\\uXXXX``
escapes (``escape_json``), so ``cat`` of a JSON export is as safe as the Markdown one.

Rich markup is a separate danger handled at the call site: the CLI's consoles are built with
``markup=False`` and model text is always wrapped in ``rich.text.Text`` or ``Markdown``.

The sanitizer is a small state machine fed chunk by chunk, so a sequence split across two
streamed chunks is recognised as one; ``sanitize(text)`` is the one-shot form.
"""

from __future__ import annotations

import re

__all__ = ["MAX_SEQUENCE", "StreamSanitizer", "escape_json", "sanitize", "sanitize_inline"]

ESC = "\x1b"
BEL = "\x07"
_ST_C1 = "\x9c"
_CSI_C1 = "\x9b"
_OSC_C1 = "\x9d"
_STRING_C1 = {"\x90", "\x98", "\x9e", "\x9f"}  # DCS, SOS, PM, APC
_STRING_INTRO = {"P", "X", "^", "_"}  # their 7-bit forms after ESC

# Longest escape sequence we hold back waiting for its end; past this it is shown as text.
MAX_SEQUENCE = 4096

# Characters that need the state machine; text without any of them passes unchanged.
_SPECIAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# What JSON text must not carry raw: DEL, C1, bidi and the line separators some readers break
# on. C0 is left alone: an encoder escapes it in strings, and outside them it is layout.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

_NORMAL, _ESC, _ESC_INTER, _CSI, _OSC, _OSC_ESC, _STRING, _STRING_ESC, _CR = range(9)


def _visible(char: str) -> str:
    """A harmless, visible stand-in for one control or formatting character."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control pictures: ␀ ... ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"


class StreamSanitizer:
    """Turns a stream of untrusted text into text that is safe to write to a terminal."""

    __slots__ = ("_buf", "_link", "_out", "_state")

    def __init__(self) -> None:
        self._state = _NORMAL
        self._buf: list[str] = []  # the sequence being read, raw
        self._out: list[str] = []
        self._link: str | None = None  # target of an open OSC 8 hyperlink

    def feed(self, chunk: str) -> str:
        """Sanitise the next piece of the stream; returns what is safe to show now."""
        if self._state == _NORMAL and not _SPECIAL.search(chunk):
            return chunk
        for char in chunk:
            self._step(char)
        out = "".join(self._out)
        self._out.clear()
        return out

    def close(self) -> str:
        """End of the stream: show any unfinished sequence as text and close an open link."""
        while self._state != _NORMAL:
            if self._state == _CR:
                self._state = _NORMAL
                self._out.append("\n")
            else:
                self._abort()
        if self._link is not None:
            self._out.append(f" ({self._link})")
            self._link = None
        out = "".join(self._out)
        self._out.clear()
        return out

    # ------------------------------------------------------------------ the machine

    def _step(self, char: str) -> None:
        state = self._state
        if state == _NORMAL:
            self._normal(char)
        elif state == _CR:
            self._state = _NORMAL
            self._out.append("\n")
            if char != "\n":
                self._normal(char)
        elif state == _ESC:
            self._after_esc(char)
        elif state in (_ESC_INTER, _CSI):
            self._in_csi(char)
        elif state in (_OSC, _STRING):
            self._in_string(char)
        else:  # _OSC_ESC, _STRING_ESC: an ESC inside a string, maybe the start of ST
            self._state = _OSC if state == _OSC_ESC else _STRING
            if char == "\\":
                self._finish_string()
            else:
                # Not ST: the string ends at the ESC (as terminals do); re-read this char.
                self._finish_string()
                self._state = _ESC
                self._buf = [ESC]
                self._after_esc(char)

    def _normal(self, char: str) -> None:
        if not _SPECIAL.match(char):
            self._out.append(char)
        elif char == ESC:
            self._begin(_ESC, char)
        elif char == "\r":
            self._state = _CR
        elif char == _CSI_C1:
            self._begin(_CSI, char)
        elif char == _OSC_C1:
            self._begin(_OSC, char)
        elif char in _STRING_C1:
            self._begin(_STRING, char)
        else:
            self._out.append(_visible(char))

    def _begin(self, state: int, char: str) -> None:
        self._state = state
        self._buf = [char]

    def _after_esc(self, char: str) -> None:
        self._buf.append(char)
        code = ord(char)
        if char == "[":
            self._state = _CSI
        elif char == "]":
            self._state = _OSC
        elif char in _STRING_INTRO:
            self._state = _STRING
        elif 0x20 <= code <= 0x2F:
            self._state = _ESC_INTER
        elif 0x30 <= code <= 0x7E:
            self._drop()  # a two-character sequence such as ESC c (reset) or ESC 7
        else:
            self._buf.pop()
            self._abort()
            self._step(char)

    def _in_csi(self, char: str) -> None:
        code = ord(char)
        more_to_come = 0x2F if self._state == _ESC_INTER else 0x3F
        if 0x20 <= code <= more_to_come and len(self._buf) < MAX_SEQUENCE:
            self._buf.append(char)
        elif more_to_come < code <= 0x7E:
            self._drop()
        else:
            self._abort()
            self._step(char)

    def _in_string(self, char: str) -> None:
        if char in (BEL, _ST_C1):
            self._finish_string()
        elif char == ESC:
            self._state = _OSC_ESC if self._state == _OSC else _STRING_ESC
        elif len(self._buf) >= MAX_SEQUENCE:
            self._abort()
            self._step(char)
        else:
            self._buf.append(char)

    def _finish_string(self) -> None:
        if self._state == _OSC:
            payload = "".join(self._buf[2:] if self._buf[0] == ESC else self._buf[1:])
            self._osc(payload)
        self._drop()

    def _osc(self, payload: str) -> None:
        """An OSC 8 hyperlink keeps its target visible; every other OSC is dropped."""
        if not payload.startswith("8;"):
            return
        target = payload[2:].partition(";")[2]
        target = "".join(c for c in target if c.isprintable() and c not in _BIDI)
        if self._link is not None:
            self._out.append(f" ({self._link})")
            self._link = None
        if target:
            self._link = target[:MAX_SEQUENCE]

    def _drop(self) -> None:
        self._state = _NORMAL
        self._buf = []

    def _abort(self) -> None:
        """An unfinished or malformed sequence: show it as text, its controls made visible."""
        raw = self._buf
        self._state = _NORMAL
        self._buf = []
        if not raw:
            return
        self._out.append(_visible(raw[0]))
        for char in raw[1:]:
            self._step(char)


def sanitize(text: str) -> str:
    """``text`` made safe to show on a terminal (see the module docstring)."""
    if not _SPECIAL.search(text):
        return text
    machine = StreamSanitizer()
    return machine.feed(text) + machine.close()


def sanitize_inline(text: str, limit: int = 200) -> str:
    """One line of safe text: newlines and tabs become spaces, and long text is cut."""
    flat = " ".join(sanitize(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def escape_json(encoded: str) -> str:
    """JSON text (from any encoder) with DEL, C1, bidi and line-separator characters written
    as ``\\uXXXX``.

    Outside strings JSON text is ASCII, so each such character sits inside a string, where
    the escape decodes to the very same character: ``json.loads`` gives back the exact text.
    """
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", encoded)
