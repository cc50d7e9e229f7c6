"""The laptop deployment (deploy/compose.yaml), read as YAML.

It is never run here: `docker compose up` needs Docker and the registry's images (redis,
postgres, prom/prometheus), and the tests run offline without Docker. What can be checked
without them is: the services and how they depend on each other, that every secret comes from
the git-ignored deploy/.env, that deploy/.env.example names every variable the file uses (with
placeholders only), and that Prometheus scrapes the replicas with the rules loaded.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the pinned tools

from agentcli.config import Settings

from .setting_names import SECRET_SETTINGS, setting_env_names

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"

# ${VAR}, ${VAR:-default}, ${VAR:?error}, ${VAR-x}, ${VAR+x} ... and bare $VAR (not $$).
_INTERPOLATION = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_]\w*))")
_ONLY_INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?+][^}]*)?\}")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|_KEYS$|AUTH|DSN|_URL$")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _replicas() -> dict[str, dict[str, Any]]:
    """The services that run `agentcli serve` (the image's own command)."""
    return {
        name: service
        for name, service in _services().items()
        if service.get("image") == "agentcli:latest" and "command" not in service
    }


def _env_example() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            out[name.strip()] = value.strip()
    return out


def _referenced() -> set[str]:
    return {a or b for a, b in _INTERPOLATION.findall(COMPOSE.read_text(encoding="utf-8"))}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {name: str(value) for name, value in env.items()}


def _env_files(service: dict[str, Any]) -> list[str]:
    files = service.get("env_file", [])
    files = [files] if isinstance(files, str) else files
    return [item if isinstance(item, str) else item["path"] for item in files]


def test_the_services() -> None:
    services = _services()
    assert services["redis"]["image"] == "redis:7"
    assert services["postgres"]["image"] == "postgres:15"
    assert services["prometheus"]["image"].startswith("prom/prometheus")
    replicas = _replicas()
    assert len(replicas) == 2, sorted(replicas)
    for name, service in replicas.items():
        build = service["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT, name
        assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name


def test_the_replicas_listen_on_8001_and_8002_of_this_machine_only() -> None:
    published = sorted(port for service in _replicas().values() for port in service["ports"])
    assert published == ["127.0.0.1:8001:8000", "127.0.0.1:8002:8000"]
    for name, service in _services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} is reachable from the network"


def test_the_replicas_share_postgresql_and_redis() -> None:
    for name, service in _replicas().items():
        env = _environment(service)
        assert env["AGENTCLI_STORE_URL"].startswith("postgresql://agentcli:${POSTGRES_PASSWORD")
        assert env["AGENTCLI_STORE_URL"].endswith("@postgres:5432/agentcli"), name
        assert env["AGENTCLI_REDIS_URL"].startswith("redis://:${REDIS_PASSWORD"), name
        assert env["AGENTCLI_REDIS_URL"].endswith("@redis:6379/0"), name
        assert env["AGENTCLI_LOG_FORMAT"] == "json"
        assert set(env) <= setting_env_names(), set(env) - setting_env_names()


def test_the_schema_is_upgraded_before_the_replicas_start() -> None:
    services = _services()
    migrate = services["migrate"]
    assert migrate["command"] == ["agentcli", "db", "upgrade"]
    assert migrate["image"] == "agentcli:latest"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart", "no") == "no"
    assert _environment(migrate)["AGENTCLI_STORE_URL"].startswith("postgresql://")
    for name, service in _replicas().items():
        depends = service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_healthchecks() -> None:
    services = _services()
    for name in ("postgres", "redis", "prometheus", *_replicas()):
        assert services[name]["healthcheck"]["test"], name
    for name, service in _replicas().items():
        assert "/readiness" in " ".join(service["healthcheck"]["test"]), name


def test_the_replicas_are_locked_down_and_drain_on_stop() -> None:
    default = Settings.model_fields["shutdown_grace"].default
    assert isinstance(default, float)
    for name, service in _replicas().items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        grace = float(_environment(service).get("AGENTCLI_SHUTDOWN_GRACE", default))
        stop = re.fullmatch(r"(\d+)s", service["stop_grace_period"])
        assert stop is not None
        assert int(stop.group(1)) > grace, name


def test_keys_come_from_the_git_ignored_env_file() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "deploy/.env" in ignored, "deploy/.env must be git-ignored"
    assert ENV_EXAMPLE.is_file()
    for name, service in _replicas().items():
        assert _env_files(service) == [".env"], name
    assert _env_files(_services()["migrate"]) == [".env"]


def test_the_example_env_file_names_every_variable_used() -> None:
    example = _env_example()
    referenced = _referenced()
    assert referenced, "the compose file takes its secrets from deploy/.env"
    assert referenced - set(example) == set(), "used in compose.yaml, not in .env.example"
    # Whatever else .env.example holds reaches the replicas through env_file: a setting.
    unused = set(example) - referenced
    assert unused <= setting_env_names(), unused - setting_env_names()


def test_the_example_env_file_holds_placeholders_only() -> None:
    example = _env_example()
    for name, value in example.items():
        if _SECRET_NAME.search(name) and name != "DEFAULT_MODEL":
            assert value == "" or "replace-me" in value.lower(), f"{name} looks like a real secret"
    # The placeholders work as they are (the README's one command): keys of 16+ characters.
    assert all(len(key) >= 16 for key in example["AGENTCLI_API_KEYS"].split(","))


def test_no_secret_is_written_in_the_compose_file() -> None:
    for name, service in _services().items():
        for var, value in _environment(service).items():
            if _SECRET_NAME.search(var) or var in SECRET_SETTINGS:
                credentials = re.search(r"://([^@/]*)@", value)
                if credentials is not None:  # a URL: its password must be interpolated
                    password = credentials.group(1).partition(":")[2]
                    assert _ONLY_INTERPOLATION.fullmatch(password), f"{name}: {var}"
                elif "://" not in value:
                    assert _ONLY_INTERPOLATION.fullmatch(value), f"{name}: {var} = {value!r}"
    text = COMPOSE.read_text(encoding="utf-8")
    for match in re.finditer(r"://[^:@/\s]*:([^@\s]+)@", text):
        assert _ONLY_INTERPOLATION.fullmatch(match.group(1)), match.group(0)
    for name, service in _services().items():
        command = service.get("command", [])
        for flag, value in itertools.pairwise(command):
            if flag in ("--requirepass", "--masterauth"):
                assert _ONLY_INTERPOLATION.fullmatch(value), f"{name}: {flag}"


def test_prometheus_scrapes_both_replicas_with_the_rules() -> None:
    prometheus = _services()["prometheus"]
    assert "./prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    for rule_file in config["rule_files"]:
        # Relative to prometheus.yml: the same path inside the container and here.
        assert not rule_file.startswith("/"), rule_file
        assert (DEPLOY / "prometheus" / rule_file).is_file(), rule_file
    assert "rules.yaml" in config["rule_files"]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "agentcli"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = {target for static in job["static_configs"] for target in static["targets"]}
    assert targets == {f"{name}:8000" for name in _replicas()}
