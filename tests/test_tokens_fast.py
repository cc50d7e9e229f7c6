"""Short ASCII text is counted from the rank index without building the tokenizer, and the
counts are tiktoken's own, exactly; anything else goes to the tokenizer."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agentcli import tokens
from agentcli._token_index import MAX_PIECE, RankIndex, build_index, count_ascii

COUNT_IN_A_FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    from agentcli import tokens
    counts = [tokens.count_tokens(text) for text in json.loads(sys.argv[1])]
    print(json.dumps({"counts": counts, "tokenizer_built": "tiktoken" in sys.modules}))
    """
)


def count_in_a_fresh_process(cache: Path, *texts: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", COUNT_IN_A_FRESH_PROCESS, json.dumps(texts)],
        env={"PATH": "/usr/bin:/bin", "AGENTCLI_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


@pytest.fixture(scope="module")
def index() -> RankIndex:
    return RankIndex(build_index(tokens._ranks()))


def tiktoken_count(text: str) -> int:
    return len(tokens.get_encoding().encode_ordinary(text))


def random_texts(seed: int, count: int) -> list[str]:
    """ASCII text of every kind: controls, runs of spaces and newlines, contractions, digits."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test text, not a secret
    every_char = [chr(i) for i in range(128)]
    pieces = [
        *"abcXYZ019 .,;:'\"!?-_()[]{}/\\\n\r\t\x0b\x0c\x1c\x1f",
        "'s", "'LL", "'Re", "  ", "\r\n", "    ", "the ", "The", "ING", "1234567", "#" * 20,
        "http://x.io/a", " " * 30, "\n\n\n",
    ]  # fmt: skip
    texts = []
    for n in range(count):
        source = every_char if n % 3 == 0 else pieces
        texts.append("".join(rng.choice(source) for _ in range(rng.randint(0, 40))))
    return texts


def test_index_counts_are_tiktokens(index: RankIndex) -> None:
    for text in random_texts(seed=12, count=4000):
        counted = count_ascii(text, index)
        if counted is not None:  # a piece too long to merge here goes to the tokenizer
            assert counted == tiktoken_count(text), repr(text)


def test_a_long_piece_is_left_to_the_tokenizer(index: RankIndex) -> None:
    long_piece = "q" + "zx" * MAX_PIECE  # one piece, not a token
    assert count_ascii(long_piece, index) is None
    assert tokens.count_tokens(long_piece) == tiktoken_count(long_piece)


def test_a_short_message_is_counted_without_building_the_tokenizer(tmp_path: Path) -> None:
    texts = ["hi", "You said: hi\n\n(offline echo agent)", "don't   stop\r\n\tnow 12345"]
    first = count_in_a_fresh_process(tmp_path / "cache", *texts)  # builds the index
    again = count_in_a_fresh_process(tmp_path / "cache", *texts)
    assert first["counts"] == again["counts"] == [tiktoken_count(t) for t in texts]
    assert again["tokenizer_built"] is False


def test_other_text_is_counted_by_the_tokenizer(tmp_path: Path) -> None:
    texts = ["héllo wörld ✂", "word " * 3000]  # not ASCII; longer than the index path takes
    answer = count_in_a_fresh_process(tmp_path / "cache", *texts)
    assert answer["counts"] == [tiktoken_count(t) for t in texts]
    assert answer["tokenizer_built"] is True


def test_a_damaged_index_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    count_in_a_fresh_process(cache, "hi")
    [index_file] = cache.glob("*.index")
    data = bytearray(index_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    index_file.write_bytes(bytes(data))
    answer = count_in_a_fresh_process(cache, "hello world")
    assert answer["counts"] == [2]
    RankIndex(index_file.read_bytes())  # intact again


def test_no_cache_directory_means_the_tokenizer(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    answer = count_in_a_fresh_process(blocker / "cache", "hello world")
    assert answer["counts"] == [2]
    assert answer["tokenizer_built"] is True  # no index kept, none built for one process
