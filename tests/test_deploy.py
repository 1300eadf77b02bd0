"""The four ways to deploy: container image, compose stack, systemd unit, Kubernetes.

None of them needs a Docker engine, a running systemd or a cluster here: each test reads
the shipped files and checks what they promise. Kubernetes manifests are validated
offline against the schemas the kubernetes-validate package ships; systemd-analyze and
kubectl, when installed, check the unit file and build the kustomization for real.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import re
import ssl
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml
from certs import issue, write_pem
from harness import free_port, needs, run_exporter, write_config

from exporter import __version__
from exporter.config import (
    DEFAULT_CONFIG_FILE,
    DEFAULT_LISTEN_ADDRESS,
    parse_config,
    parse_listen_address,
)
from exporter.simulator import Scenario, SimulatorServer

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
PROMETHEUS = DEPLOY / "prometheus"
APP = "cention-logio-exporter"
CONFIG_PATH = "/etc/cention-logio-exporter/config.yaml"
STATE_DIR = "/var/lib/cention-logio-exporter"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def console_scripts() -> dict[str, str]:
    """pyproject.toml's [project.scripts] table."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport
        tomllib = pytest.importorskip("tomli")
    with (ROOT / "pyproject.toml").open("rb") as file:
        return dict(tomllib.load(file)["project"]["scripts"])


def prometheus_job() -> str:
    """The job name deploy/prometheus/prometheus.yml scrapes the exporter under."""
    (job,) = load_yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"]
    return str(job["job_name"])


# --- Dockerfile ---------------------------------------------------------------------------


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    """(INSTRUCTION, arguments) per build stage, continuation lines joined, comments dropped."""
    stages: list[list[tuple[str, str]]] = []
    logical = ""
    for line in text.splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        logical += line.rstrip()
        if logical.endswith("\\"):
            logical = logical[:-1] + " "
            continue
        keyword, _, arguments = logical.strip().partition(" ")
        logical = ""
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), " ".join(arguments.split())))
    return stages


def instructions(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    return [arguments for kw, arguments in stage if kw == keyword]


def copy_sources(arguments: str) -> list[str]:
    """The source paths of a COPY or ADD (its flags and destination dropped)."""
    words = [word for word in arguments.split() if not word.startswith("--")]
    return words[:-1]


def healthcheck_command(stage: list[tuple[str, str]]) -> list[str]:
    """The command the image's HEALTHCHECK runs, in exec form."""
    (healthcheck,) = instructions(stage, "HEALTHCHECK")
    return list(json.loads(healthcheck.partition(" CMD ")[2]))


def run_image_command(command: list[str], config: Path, *flags: str) -> int:
    """``command`` as the image runs it, here: the console script as ``python -m exporter``,
    the mounted config file at ``config``; ``flags`` added."""
    assert command[0] == APP
    here = [arg.replace(CONFIG_PATH, str(config)) for arg in command[1:]]
    run = [sys.executable, "-m", "exporter", *here, *flags]
    return subprocess.run(run, capture_output=True, timeout=30, check=False).returncode


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(name="stages")
def _stages() -> list[list[tuple[str, str]]]:
    return dockerfile_stages((ROOT / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(name="final")
def _final(stages: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    return stages[-1]


@pytest.fixture(name="pki", scope="module")
def _pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exporter's self-signed certificate, and a web config turning TLS on with it."""
    folder = tmp_path_factory.mktemp("pki")
    write_pem(issue("exporter", serves=True), folder, "server")
    tls = {"tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"}}
    (folder / "web.yml").write_text(yaml.safe_dump(tls), encoding="utf-8")
    return folder


def offline_config(path: Path, port: int, **web: object) -> Path:
    """A config listening on loopback ``port``, its API answering nothing."""
    workspace = {"workspace": "demo", "api_url": "http://127.0.0.1:9", "token": "t0ken"}
    web = {"listen_address": f"127.0.0.1:{port}", **web}
    return write_config(path, [workspace], web=web)


class TestContainer:
    """The top-level Dockerfile and its .dockerignore."""

    def test_builds_the_wheel_in_a_separate_stage(self, stages):
        """A builder stage makes the wheels and a fresh slim Python image runs them."""
        assert [stage[0] for stage in stages] == [
            ("FROM", "python:3.12-slim AS builder"),
            ("FROM", "python:3.12-slim"),
        ]
        assert instructions(stages[0], "RUN") == ["pip wheel --wheel-dir /wheels ."]

    def test_final_stage_installs_only_the_built_wheels(self, final):
        """The final stage copies nothing in and installs from the builder's wheels alone."""
        assert instructions(final, "COPY") + instructions(final, "ADD") == []
        (run,) = instructions(final, "RUN")
        assert run.startswith(
            "--mount=type=bind,from=builder,source=/wheels,target=/wheels "
            "pip install --no-index --find-links=/wheels cention-logio-exporter && "
        )

    def test_final_stage_runs_as_a_non_root_user(self, final):
        """The last USER of the final stage is a numeric uid other than root's."""
        user = instructions(final, "USER")[-1]
        uid, _, gid = user.partition(":")
        assert (uid, gid) == ("10001", "10001")
        assert [kw for kw, _ in final].index("USER") > [kw for kw, _ in final].index("RUN")

    def test_builder_copies_only_the_package_sources(self, stages):
        """The builder copies pyproject.toml, setup.py, README.md and the package, nothing else."""
        sources = [
            s for arguments in instructions(stages[0], "COPY") for s in copy_sources(arguments)
        ]
        assert sources == ["pyproject.toml", "setup.py", "README.md", "exporter"]

    def test_no_config_token_or_state_is_copied(self, stages):
        """No stage copies a config file, a token, a secret or a state file into the image."""
        private = ("config.yaml", "*token*", "*secret*", "*.state.json", ".env")
        for stage in stages:
            copies = instructions(stage, "COPY") + instructions(stage, "ADD")
            sources = [PurePosixPath(s).name for a in copies for s in copy_sources(a)]
            assert [s for s in sources if any(fnmatch(s, p) for p in private)] == []

    def test_entrypoint_is_the_console_script(self, final):
        """ENTRYPOINT runs the one console script pyproject.toml declares."""
        assert list(console_scripts()) == ["cention-logio-exporter"]
        (entrypoint,) = instructions(final, "ENTRYPOINT")
        assert json.loads(entrypoint) == list(console_scripts())

    def test_cmd_runs_the_exporter_with_the_mounted_config(self, final):
        """CMD runs the exporter with the config file at its conventional path."""
        (cmd,) = instructions(final, "CMD")
        assert json.loads(cmd) == ["run", f"--config.file={CONFIG_PATH}"]

    def test_exposes_the_default_port(self, final):
        """EXPOSE names the port of the exporter's default listen address."""
        assert instructions(final, "EXPOSE") == ["9863"]
        assert parse_listen_address(DEFAULT_LISTEN_ADDRESS)[1] == 9863

    def test_state_directory_is_a_volume(self, final):
        """The state directory is a VOLUME, so state.file can outlive the container."""
        assert instructions(final, "VOLUME") == [STATE_DIR]

    def test_default_config_file_is_the_mounted_one(self, final):
        """From WORKDIR, ./config.yaml is the mounted config: flags alone find it too."""
        (workdir,) = instructions(final, "WORKDIR")
        assert PurePosixPath(workdir) / DEFAULT_CONFIG_FILE == PurePosixPath(CONFIG_PATH)

    def test_healthcheck_reads_the_config_run_reads(self, final):
        """HEALTHCHECK runs the healthcheck command with CMD's config file."""
        (cmd,) = instructions(final, "CMD")
        assert healthcheck_command(final) == [APP, "healthcheck", *json.loads(cmd)[1:]]

    def test_healthcheck_follows_the_exporter(self, final, tmp_path):
        """It passes while the exporter serves on its configured port and fails once stopped."""
        port = free_port()
        config = offline_config(tmp_path / "config.yaml", port)
        with run_exporter(config, port=port, ready=False):
            assert run_image_command(healthcheck_command(final), config) == 0
        assert run_image_command(healthcheck_command(final), config) == 1

    def test_healthcheck_passes_with_tls_on(self, final, pki):
        """With tls_server_config the check speaks TLS (plain HTTP would get a 400)."""
        port = free_port()
        config = offline_config(pki / "config.yaml", port, config_file="web.yml")
        verify = ssl.create_default_context(cafile=pki / "server.crt")
        with run_exporter(config, port=port, ready=False, verify=verify):
            assert run_image_command(healthcheck_command(final), config) == 0

    def test_dockerignore_lets_in_only_what_the_builder_copies(self, stages):
        """.dockerignore excludes everything, then lets in exactly the builder's sources."""
        patterns = dockerignore_patterns()
        assert patterns[0] == "*"
        allowed = [p[1:] for p in patterns if p.startswith("!")]
        sources = [
            s for arguments in instructions(stages[0], "COPY") for s in copy_sources(arguments)
        ]
        assert allowed == sources

    def test_dockerignore_drops_private_files_inside_the_package(self):
        """.dockerignore keeps caches, configs, state files and tokens out of the package too."""
        excluded = [p for p in dockerignore_patterns()[1:] if not p.startswith("!")]
        assert excluded == [
            "**/__pycache__",
            "**/*.py[cod]",
            "**/config.yaml",
            "**/*.state.json",
            "**/.env",
            "**/token",
            "**/*.token",
        ]

    def test_dockerignore_keeps_every_package_module(self):
        """No source file of the package matches a pattern that .dockerignore drops."""
        excluded = [p[3:] for p in dockerignore_patterns() if p.startswith("**/")]
        sources = [p for p in (ROOT / "exporter").rglob("*") if p.suffix == ".py"]
        assert sources
        dropped = [
            p
            for p in sources
            if any(
                fnmatch(part, pattern) for part in p.relative_to(ROOT).parts for pattern in excluded
            )
        ]
        assert [p for p in dropped if "__pycache__" not in p.parts] == []


# --- docker compose ---------------------------------------------------------------------

_DEFAULTED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}")


def interpolate(value: str) -> str:
    """Compose's interpolation with no variables set: ${VAR:-default} -> default, $$ -> $."""
    value = _DEFAULTED.sub(lambda match: match.group(2), value)
    assert re.search(r"(?<!\$)\$\{", value) is None, f"{value!r} needs a variable set"
    return value.replace("$$", "$")


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """A service's bind mounts: container path -> host path, resolved like compose does."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = interpolate(volume).split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = (DEPLOY / source).resolve()
    return mounts


def compose_schema() -> dict[str, Any]:
    """The Compose Specification's JSON schema, as the check-jsonschema package ships it."""
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return dict(json.loads(vendor.joinpath("compose-spec.json").read_text(encoding="utf-8")))


def schema_errors(document: dict[str, Any]) -> list[str]:
    """Every message of validating ``document`` against the Compose schema, sorted."""
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return sorted(error.message for error in validator.iter_errors(document))


def healthcheck_program(service: dict[str, Any]) -> str:
    """The Python program of a ``[CMD, python, -c, PROGRAM]`` healthcheck."""
    command = service["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    return str(command[3])


def run_program(code: str) -> int:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode


# The programs each image has to run a healthcheck with: the prom/* images are built on
# busybox (wget), grafana's installs curl, and the exporter image is python:3.12-slim
# with the console script.
IMAGE_PROGRAMS = {
    "cention-logio-exporter": {"python", APP},
    "prom/prometheus": {"wget"},
    "prom/alertmanager": {"wget"},
    "grafana/grafana": {"curl"},
}


@pytest.fixture(name="compose")
def _compose() -> dict[str, Any]:
    return load_yaml(DEPLOY / "docker-compose.yml")


@pytest.fixture(name="services")
def _services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(name="compose_config")
def _compose_config() -> dict[str, Any]:
    return load_yaml(DEPLOY / "compose" / "config.yaml")


class TestCompose:
    """deploy/docker-compose.yml: simulator, exporter, Prometheus, Alertmanager, Grafana."""

    def test_brings_up_the_whole_stack(self, services):
        """The stack has exactly the five services."""
        assert sorted(services) == [
            "alertmanager",
            "exporter",
            "grafana",
            "prometheus",
            "simulator",
        ]

    def test_every_mounted_host_path_exists_in_the_repository(self, compose, services):
        """Every bind mount and secret file is a file or directory of this repository."""
        sources = [path for s in services.values() for path in bind_mounts(s).values()]
        sources += [
            (DEPLOY / interpolate(s["file"])).resolve() for s in compose["secrets"].values()
        ]
        assert len(sources) == 6
        for source in sources:
            assert source.is_relative_to(ROOT), source
            assert source.exists(), source

    def test_named_volumes_are_declared(self, compose, services):
        """Every named volume a service mounts is declared at the top level."""
        named = {
            interpolate(v).split(":")[0]
            for s in services.values()
            for v in s.get("volumes", [])
            if not interpolate(v).startswith((".", "/"))
        }
        assert named == set(compose["volumes"])

    def test_exporter_and_simulator_run_the_image_built_from_the_dockerfile(self, services):
        """Both run the image built from the top-level Dockerfile."""
        for name in ("exporter", "simulator"):
            build = services[name]["build"]
            assert (DEPLOY / build["context"]).resolve() == ROOT
            assert build["dockerfile"] == "Dockerfile"
            assert services[name]["image"] == "cention-logio-exporter:local"

    def test_exporter_mounts_the_stack_config(self, services):
        """The exporter reads deploy/compose/config.yaml at the path the image's CMD names."""
        assert services["exporter"]["command"] == ["run", f"--config.file={CONFIG_PATH}"]
        assert bind_mounts(services["exporter"]) == {
            CONFIG_PATH: DEPLOY / "compose" / "config.yaml"
        }

    def test_exporter_reads_the_token_from_a_docker_secret(self, services, compose_config):
        """The exporter's token is the cention_token secret, named by token_file."""
        assert services["exporter"]["secrets"] == ["cention_token"]
        (workspace,) = compose_config["workspaces"]
        assert workspace["token_file"] == "/run/secrets/cention_token"
        assert "token" not in workspace
        assert "environment" not in services["exporter"]

    def test_simulator_accepts_the_same_secret(self, services):
        """The simulator reads the same secret into $CENTION_TOKEN, the token it accepts."""
        assert services["simulator"]["secrets"] == ["cention_token"]
        script = interpolate(services["simulator"]["entrypoint"][2])
        assert 'CENTION_TOKEN="$(cat /run/secrets/cention_token)"; export CENTION_TOKEN;' in script
        assert script.endswith(
            "exec cention-logio-exporter simulate "
            "--listen-address 0.0.0.0:9864 --agents 40 --workspace demo"
        )

    def test_no_token_is_written_in_the_compose_file(self, compose, services):
        """The compose file holds neither the token nor a variable carrying one."""
        text = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
        token = (DEPLOY / "compose" / "cention_token.example").read_text(encoding="utf-8")
        assert token.strip() not in text
        for service in services.values():
            environment = service.get("environment", {})
            assert [k for k in environment if "TOKEN" in k.upper()] == []
        assert compose["secrets"] == {
            "cention_token": {"file": "${CENTION_TOKEN_FILE:-./compose/cention_token.example}"}
        }

    def test_stack_config_is_valid_with_the_secret_file(self, services, compose_config):
        """The stack config passes the exporter's validation with the secret's file as token."""
        (workspace,) = compose_config["workspaces"]
        secret = (DEPLOY / "compose" / "cention_token.example").resolve()
        workspace["token_file"] = str(secret)
        config = parse_config(compose_config, {}, DEPLOY / "compose")
        assert config.workspaces[0].token.reveal() == secret.read_text(encoding="utf-8").strip()

    def test_exporter_polls_the_simulator(self, compose_config):
        """The stack config's api_url is the simulator service on its listen port."""
        (workspace,) = compose_config["workspaces"]
        assert (workspace["workspace"], workspace["api_url"]) == ("demo", "http://simulator:9864")

    def test_state_file_lives_on_the_state_volume(self, services, compose_config):
        """state.file lies in the directory the exporter-state volume is mounted on."""
        assert "exporter-state:" + STATE_DIR in services["exporter"]["volumes"]
        assert compose_config["state"]["file"] == STATE_DIR + "/state.json"

    def test_prometheus_mounts_the_shipped_configuration(self, services):
        """Prometheus reads deploy/prometheus/ itself, with every rule file it names."""
        assert bind_mounts(services["prometheus"]) == {"/etc/prometheus": PROMETHEUS}
        assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
        for rule_file in load_yaml(PROMETHEUS / "prometheus.yml")["rule_files"]:
            assert (PROMETHEUS / rule_file).is_file()

    def test_prometheus_targets_are_services_of_the_stack(self):
        """prometheus.yml scrapes the exporter service and alerts the alertmanager service."""
        config = load_yaml(PROMETHEUS / "prometheus.yml")
        (scrape,) = config["scrape_configs"]
        assert scrape["static_configs"] == [{"targets": ["exporter:9863"]}]
        (alerting,) = config["alerting"]["alertmanagers"]
        assert alerting["static_configs"] == [{"targets": ["alertmanager:9093"]}]

    def test_alertmanager_mounts_the_shipped_configuration(self, services):
        """Alertmanager reads deploy/alertmanager/alertmanager.yml."""
        assert bind_mounts(services["alertmanager"]) == {
            "/etc/alertmanager": DEPLOY / "alertmanager"
        }
        assert (
            "--config.file=/etc/alertmanager/alertmanager.yml"
            in services["alertmanager"]["command"]
        )
        assert (DEPLOY / "alertmanager" / "alertmanager.yml").is_file()

    def test_grafana_mounts_provisioning_and_dashboard(self, services):
        """Grafana gets the provisioning tree and the dashboard where the provider looks."""
        grafana = ROOT / "grafana"
        assert bind_mounts(services["grafana"]) == {
            "/etc/grafana/provisioning": grafana / "provisioning",
            "/var/lib/grafana/dashboards/cention-logio.json": grafana / "cention-logio.json",
        }
        (provider,) = load_yaml(grafana / "provisioning" / "dashboards" / "cention.yml")[
            "providers"
        ]
        assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
        (datasource,) = load_yaml(grafana / "provisioning" / "datasources" / "prometheus.yml")[
            "datasources"
        ]
        assert datasource["url"] == "http://prometheus:9090"

    def test_services_share_one_private_network(self, compose, services):
        """Every service is on the one user-defined bridge network."""
        assert compose["networks"] == {"cention": {"driver": "bridge"}}
        assert {name: s["networks"] for name, s in services.items()} == {
            name: ["cention"] for name in services
        }

    def test_matches_the_compose_specification(self, compose):
        """The file validates against the Compose Specification's JSON schema."""
        assert schema_errors(compose) == []

    def test_schema_rejects_a_misspelt_key(self, compose):
        """The schema is strict: a misspelt service key or condition fails validation."""
        compose["services"]["exporter"]["read_onyl"] = True
        compose["services"]["grafana"]["depends_on"]["prometheus"]["condition"] = "healthy"
        errors = schema_errors(compose)
        assert any("'read_onyl' was unexpected" in message for message in errors), errors
        assert any("is not valid under any of the given schemas" in m for m in errors), errors

    def test_every_service_has_a_healthcheck(self, services):
        """Each service runs a check every 10 s, with a timeout, retries and a start period."""
        timings = {
            name: {k: v for k, v in s["healthcheck"].items() if k != "test"}
            for name, s in services.items()
        }
        expected = {"interval": "10s", "timeout": "5s", "retries": 3, "start_period": "20s"}
        assert timings == {name: expected for name in services}

    def test_healthchecks_ask_each_services_own_endpoint(self, services):
        """Each check asks the service's health or readiness endpoint on its own port."""
        tests = {name: s["healthcheck"]["test"] for name, s in services.items()}
        own = {name: test[-1] for name, test in tests.items() if test[1] not in ("python", APP)}
        assert own == {
            "prometheus": "http://127.0.0.1:9090/-/ready",
            "alertmanager": "http://127.0.0.1:9093/-/ready",
            "grafana": "http://127.0.0.1:3000/api/health",
        }
        assert tests["prometheus"] == ["CMD", "wget", "-q", "--spider", tests["prometheus"][-1]]
        assert tests["alertmanager"][:4] == ["CMD", "wget", "-q", "--spider"]
        assert tests["grafana"][:5] == ["CMD", "curl", "-fsS", "-o", "/dev/null"]
        assert "'http://127.0.0.1:9864/'" in healthcheck_program(services["simulator"])
        exporter = services["exporter"]
        assert tests["exporter"] == ["CMD", APP, "healthcheck", *exporter["command"][1:]]

    def test_healthchecks_use_a_program_the_image_ships(self, services):
        """No check calls a program its image lacks (curl is not in prom/* nor in slim)."""
        used = {name: s["healthcheck"]["test"][1] for name, s in services.items()}
        assert used == {
            "simulator": "python",
            "exporter": APP,
            "prometheus": "wget",
            "alertmanager": "wget",
            "grafana": "curl",
        }
        images = {name: s["image"].partition(":")[0] for name, s in services.items()}
        assert [
            name for name, program in used.items() if program not in IMAGE_PROGRAMS[images[name]]
        ] == []

    def test_every_dependency_waits_until_healthy(self, services):
        """A service starts only once each service it needs passes its healthcheck."""
        depends = {name: s.get("depends_on", {}) for name, s in services.items()}
        assert {name: sorted(d) for name, d in depends.items()} == {
            "simulator": [],
            "exporter": ["simulator"],
            "prometheus": ["alertmanager", "exporter"],
            "alertmanager": [],
            "grafana": ["prometheus"],
        }
        conditions = [c for d in depends.values() for c in d.values()]
        assert conditions == [{"condition": "service_healthy"}] * 4

    @pytest.mark.parametrize("name", ["exporter", "simulator"])
    def test_runs_on_a_read_only_root_without_privileges(self, services, name):
        """The exporter image runs read-only, with every capability dropped, no new privileges."""
        service = services[name]
        hardening = {k: service.get(k) for k in ("read_only", "cap_drop", "security_opt")}
        assert hardening == {
            "read_only": True,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
        }

    def test_exporter_writes_only_to_the_state_volume(self, services, compose_config):
        """On its read-only root, the exporter's one writable place is the state volume."""
        exporter = services["exporter"]
        writable = [v for v in exporter["volumes"] if not v.endswith(":ro")]
        assert writable == ["exporter-state:" + STATE_DIR]
        assert "tmpfs" not in exporter
        assert PurePosixPath(compose_config["state"]["file"]).parent == PurePosixPath(STATE_DIR)

    def test_simulator_healthcheck_follows_the_simulator(self, services):
        """The simulator's check passes while it serves and fails once it has stopped."""
        code = healthcheck_program(services["simulator"])
        with SimulatorServer(
            Scenario(start=int(time.time()), agents=3, seed=1), token="t0ken"
        ) as simulator:
            port_code = code.replace(":9864/", f":{simulator.port}/")
            assert run_program(port_code) == 0
        assert run_program(port_code) == 1

    def test_exporter_healthcheck_follows_the_exporter(self, services, tmp_path):
        """The exporter's check passes against a running exporter and fails once it stopped."""
        command = services["exporter"]["healthcheck"]["test"][1:]
        with SimulatorServer(
            Scenario(start=int(time.time()), agents=3, seed=1), token="t0ken"
        ) as simulator:
            workspace = {"workspace": "demo", "api_url": simulator.url, "token": "t0ken"}
            config = write_config(tmp_path / "config.yaml", [workspace])
            with run_exporter(config) as exporter:
                listen = f"--web.listen-address=127.0.0.1:{exporter.port}"
                assert run_image_command(command, config, listen) == 0
            assert run_image_command(command, config, listen) == 1

    def test_published_ports_listen_on_loopback_only(self, services):
        """Host ports are bound to 127.0.0.1; the simulator publishes none."""
        ports = {name: s.get("ports", []) for name, s in services.items()}
        assert ports == {
            "simulator": [],
            "exporter": ["127.0.0.1:9863:9863"],
            "prometheus": ["127.0.0.1:9090:9090"],
            "alertmanager": ["127.0.0.1:9093:9093"],
            "grafana": ["127.0.0.1:3000:3000"],
        }


# --- systemd ------------------------------------------------------------------------------

UNIT = DEPLOY / "systemd" / "cention-logio-exporter.service"


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as section -> key -> every value given, in order (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    section: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        section.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(name="service")
def _service() -> dict[str, list[str]]:
    return parse_unit(UNIT.read_text(encoding="utf-8"))["Service"]


def unit_with_existing_binary(tmp_path: Path) -> Path:
    """A copy of the unit whose ExecStart names an executable present on this machine.

    systemd-analyze verify rejects an ExecStart binary that does not exist; the unit names
    the install path from its header. The copy points at the console script beside this
    interpreter when installed, or at the interpreter itself: only the binary's path changes.
    """
    script = Path(sys.executable).with_name("cention-logio-exporter")
    binary = script if script.exists() else Path(sys.executable)
    text = UNIT.read_text(encoding="utf-8")
    copy = tmp_path / UNIT.name
    copy.write_text(
        text.replace(
            "ExecStart=/opt/cention-logio-exporter/bin/cention-logio-exporter ",
            f"ExecStart={binary} ",
        ),
        encoding="utf-8",
    )
    assert copy.read_text(encoding="utf-8") != text
    return copy


HARDENING = [
    ("NoNewPrivileges", "yes"),
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("PrivateMounts", "yes"),
    ("PrivateUsers", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectHostname", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectProc", "invisible"),
    ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
    ("RestrictNamespaces", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    ("MemoryDenyWriteExecute", "yes"),
    ("RemoveIPC", "yes"),
    ("CapabilityBoundingSet", ""),
    ("AmbientCapabilities", ""),
    ("SystemCallArchitectures", "native"),
    ("SystemCallErrorNumber", "EPERM"),
    ("UMask", "0077"),
]


class TestSystemd:
    """deploy/systemd/cention-logio-exporter.service."""

    def test_runs_the_console_script_with_the_config_file(self, service):
        """ExecStart runs the console script's run command with the /etc config file."""
        (exec_start,) = service["ExecStart"]
        binary, *arguments = exec_start.split()
        assert PurePosixPath(binary).name == next(iter(console_scripts()))
        assert arguments == ["run", f"--config.file={CONFIG_PATH}"]

    def test_runs_as_a_dynamic_user_with_a_state_directory(self, service):
        """A dynamic user owns /var/lib/cention-logio-exporter, the home of state.file."""
        assert service["DynamicUser"] == ["yes"]
        assert service["StateDirectory"] == ["cention-logio-exporter"]
        assert service["StateDirectoryMode"] == ["0700"]

    def test_token_comes_through_load_credential(self, service):
        """The token file is handed over as the credential cention-token."""
        assert service["LoadCredential"] == ["cention-token:/etc/cention-logio-exporter/token"]
        assert "Environment" not in service
        assert "EnvironmentFile" not in service

    def test_documented_token_file_reads_the_credential(self, tmp_path):
        """The token_file the unit's header documents resolves in $CREDENTIALS_DIRECTORY."""
        text = UNIT.read_text(encoding="utf-8")
        assert "#       token_file: ${CREDENTIALS_DIRECTORY}/cention-token\n" in text
        assert "#     file: /var/lib/cention-logio-exporter/state.json\n" in text
        (tmp_path / "cention-token").write_text("t0ken\n", encoding="utf-8")
        data = {
            "workspaces": [
                {
                    "workspace": "demo",
                    "api_url": "https://apid.cention.com",
                    "token_file": "${CREDENTIALS_DIRECTORY}/cention-token",
                }
            ],
            "state": {"file": STATE_DIR + "/state.json"},
        }
        config = parse_config(data, {"CREDENTIALS_DIRECTORY": str(tmp_path)}, Path("/etc"))
        assert config.workspaces[0].token.reveal() == "t0ken"

    @pytest.mark.parametrize(("key", "value"), HARDENING, ids=[key for key, _ in HARDENING])
    def test_hardening_directive(self, service, key, value):
        """The unit sets each hardening directive exactly once, to the expected value."""
        assert service[key] == [value]

    def test_system_calls_are_filtered(self, service):
        """System calls are limited to @system-service less the privileged and resource sets."""
        assert service["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]

    def test_restarts_on_failure_and_reloads_with_sighup(self, service):
        """A crash restarts the exporter; reload sends SIGHUP, which re-reads the config."""
        assert service["Restart"] == ["on-failure"]
        assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]

    def test_starts_after_the_network_and_at_boot(self):
        """The unit waits for the network and is wanted by multi-user.target."""
        unit = parse_unit(UNIT.read_text(encoding="utf-8"))
        assert unit["Unit"]["Wants"] == ["network-online.target"]
        assert unit["Unit"]["After"] == ["network-online.target"]
        assert unit["Install"] == {"WantedBy": ["multi-user.target"]}

    def test_documentation_is_what_the_install_steps_install(self):
        """Documentation= names the files that the header's and the README's steps install."""
        text = UNIT.read_text(encoding="utf-8")
        (documentation,) = parse_unit(text)["Unit"]["Documentation"]
        ((directory, sources),) = re.findall(r"^#   install -D -m 0644 -t (\S+) (.+)$", text, re.M)
        assert documentation.split() == [
            f"file:{directory}/{PurePosixPath(source).name}" for source in sources.split()
        ]
        assert [s for s in sources.split() if not (ROOT / s).is_file()] == []
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        assert f"\ninstall -D -m 0644 -t {directory} {sources}\n" in readme

    @needs("systemd-analyze")
    def test_systemd_analyze_verify_accepts_the_unit(self, tmp_path):
        """systemd-analyze verify reports nothing about the unit."""
        unit = unit_with_existing_binary(tmp_path)
        result = subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert UNIT.name not in result.stdout + result.stderr

    @needs("systemd-analyze")
    def test_systemd_analyze_security_rates_the_unit_ok(self, tmp_path):
        """systemd-analyze security rates the unit's exposure at 2.0 or lower."""
        unit = unit_with_existing_binary(tmp_path)
        result = subprocess.run(
            ["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(unit)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr


# --- Kubernetes ---------------------------------------------------------------------------

# The fields of the Prometheus Operator's CRDs (monitoring.coreos.com/v1) that these
# manifests may use, as JSON Schema; objects are closed, so a misspelt key fails.
STRING, INTEGER, BOOLEAN, OBJECT = ({"type": t} for t in ("string", "integer", "boolean", "object"))
LABELS = {"type": "object", "additionalProperties": STRING}
DURATION = {
    "type": "string",
    "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?"
    "(([0-9]+)ms)?)$",
}
RELABEL_ACTIONS = (
    "replace", "keep", "drop", "hashmod", "labelmap", "labeldrop", "labelkeep",
    "lowercase", "uppercase", "keepequal", "dropequal",
)  # fmt: skip


def closed(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    """An object schema that admits only ``properties`` and needs ``required``."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": properties,
    }


def list_of(items: dict[str, Any], min_items: int = 0) -> dict[str, Any]:
    return {"type": "array", "items": items, "minItems": min_items}


def operator_resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A closed schema for a monitoring.coreos.com/v1 resource of ``kind``."""
    metadata = {"type": "object", "required": ["name"], "properties": {"labels": LABELS}}
    header = {"apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": kind}}
    return closed(header | {"metadata": metadata, "spec": spec}, *header, "metadata", "spec")


RELABELINGS = list_of(
    closed(
        {"action": {"enum": list(RELABEL_ACTIONS)}, "sourceLabels": list_of(STRING)}
        | dict.fromkeys(("separator", "targetLabel", "regex", "replacement"), STRING)
        | {"modulus": INTEGER}
    )
)
ENDPOINT = closed(
    dict.fromkeys(("port", "path", "scheme", "proxyUrl", "bearerTokenFile"), STRING)
    | dict.fromkeys(("interval", "scrapeTimeout"), DURATION)
    | dict.fromkeys(
        ("honorLabels", "honorTimestamps", "followRedirects", "enableHttp2", "filterRunning"),
        BOOLEAN,
    )
    | dict.fromkeys(
        ("authorization", "basicAuth", "bearerTokenSecret", "oauth2", "tlsConfig", "params"),
        OBJECT,
    )
    | {
        "targetPort": {"type": ["string", "integer"]},
        "trackTimestampsStaleness": BOOLEAN,
        "relabelings": RELABELINGS,
        "metricRelabelings": RELABELINGS,
    }
)
SERVICE_MONITOR_SCHEMA = operator_resource(
    "ServiceMonitor",
    closed(
        {
            "selector": closed({"matchLabels": LABELS, "matchExpressions": list_of(OBJECT)}),
            "endpoints": list_of(ENDPOINT, min_items=1),
            "namespaceSelector": OBJECT,
            "jobLabel": STRING,
            "targetLabels": list_of(STRING),
            "podTargetLabels": list_of(STRING),
            "sampleLimit": INTEGER,
        },
        "selector",
        "endpoints",
    ),
)
RULE = closed(
    {"alert": STRING, "record": STRING, "expr": {"type": ["string", "integer"]}}
    | {"for": DURATION, "keep_firing_for": DURATION, "labels": LABELS, "annotations": LABELS},
    "expr",
) | {"oneOf": [{"required": ["alert"]}, {"required": ["record"]}]}
GROUP = closed(
    {"name": {"type": "string", "minLength": 1}, "rules": list_of(RULE), "labels": LABELS}
    | {"interval": DURATION, "query_offset": DURATION, "limit": INTEGER}
    | {"partial_response_strategy": STRING},
    "name",
)
PROMETHEUS_RULE_SCHEMA = operator_resource("PrometheusRule", closed({"groups": list_of(GROUP)}))


def kubernetes_versions() -> list[str]:
    """The oldest and the newest Kubernetes versions whose schemas the package ships."""
    versions = kubernetes_validate.utils.all_versions()
    return sorted({versions[0], versions[-1]})


def load_generator() -> Any:
    """deploy/kubernetes/build_prometheusrule.py as a module."""
    path = KUBERNETES / "build_prometheusrule.py"
    spec = importlib.util.spec_from_file_location("build_prometheusrule", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name="kustomization")
def _kustomization() -> dict[str, Any]:
    return load_yaml(KUBERNETES / "kustomization.yaml")


@pytest.fixture(name="manifests")
def _manifests(kustomization: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every resource the kustomization lists, plus the ConfigMap it generates, by kind."""
    documents = [load_yaml(KUBERNETES / name) for name in kustomization["resources"]]
    (generator,) = kustomization["configMapGenerator"]
    documents.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": generator["name"], "labels": generator["options"]["labels"]},
            "data": {
                name: (KUBERNETES / name).read_text(encoding="utf-8") for name in generator["files"]
            },
        }
    )
    return {document["kind"]: document for document in documents}


@pytest.fixture(name="pod")
def _pod(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return manifests["Deployment"]["spec"]["template"]["spec"]


@pytest.fixture(name="container")
def _container(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod["containers"]
    return container


@pytest.fixture(name="kube_config")
def _kube_config() -> dict[str, Any]:
    return load_yaml(KUBERNETES / "config.yaml")


def mount_path(container: dict[str, Any], volume: str) -> str:
    (path,) = [m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume]
    return str(path)


def volume(pod: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [v for v in pod["volumes"] if v["name"] == name]
    return found


class TestKubernetes:
    """deploy/kubernetes: a kustomization for plain Kubernetes and the Prometheus Operator."""

    def test_kustomization_lists_the_manifests(self, kustomization):
        """The kustomization applies the four manifests and generates the ConfigMap."""
        assert kustomization["resources"] == [
            "deployment.yaml",
            "service.yaml",
            "servicemonitor.yaml",
            "prometheusrule.yaml",
        ]
        assert kustomization["configMapGenerator"] == [
            {
                "name": "cention-logio-exporter-config",
                "files": ["config.yaml"],
                "options": {"labels": {"app.kubernetes.io/name": APP}},
            }
        ]

    def test_secret_example_is_not_applied(self, kustomization):
        """secret.example.yaml is shipped but not applied, so no token is ever committed."""
        assert (KUBERNETES / "secret.example.yaml").is_file()
        assert "secret.example.yaml" not in kustomization["resources"]

    @pytest.mark.parametrize("version", kubernetes_versions())
    @pytest.mark.parametrize("kind", ["Deployment", "Service", "ConfigMap"])
    def test_builtin_manifest_matches_the_kubernetes_schema(self, manifests, kind, version):
        """Each built-in manifest validates strictly against the Kubernetes JSON schema."""
        validated = kubernetes_validate.validate(manifests[kind], version, strict=True)
        assert validated == kubernetes_validate.utils.major_minor(version)

    @pytest.mark.parametrize("version", kubernetes_versions())
    def test_secret_example_matches_the_kubernetes_schema(self, version):
        """The Secret example validates strictly against the Kubernetes JSON schema."""
        secret = load_yaml(KUBERNETES / "secret.example.yaml")
        validated = kubernetes_validate.validate(secret, version, strict=True)
        assert validated == kubernetes_validate.utils.major_minor(version)

    def test_service_monitor_matches_the_operator_fields(self, manifests):
        """The ServiceMonitor uses only fields of the Operator's ServiceMonitor CRD."""
        jsonschema.validate(manifests["ServiceMonitor"], SERVICE_MONITOR_SCHEMA)

    def test_prometheus_rule_matches_the_operator_fields(self, manifests):
        """The PrometheusRule uses only fields of the Operator's PrometheusRule CRD."""
        jsonschema.validate(manifests["PrometheusRule"], PROMETHEUS_RULE_SCHEMA)

    def test_operator_schemas_reject_a_misspelt_field(self, manifests):
        """The CRD field checks fail on a field the CRD does not have."""
        monitor = manifests["ServiceMonitor"]
        monitor["spec"]["endpoints"][0]["intervall"] = "30s"
        with pytest.raises(jsonschema.ValidationError, match="'intervall' was unexpected"):
            jsonschema.validate(monitor, SERVICE_MONITOR_SCHEMA)

    def test_liveness_and_readiness_probes(self, container):
        """Liveness asks /healthz and readiness /ready, on the metrics port."""
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}
        assert container["ports"] == [{"name": "metrics", "containerPort": 9863, "protocol": "TCP"}]

    def test_runs_non_root_on_a_read_only_root_filesystem(self, pod, container):
        """The pod runs as the image's uid, without privileges, on a read-only root."""
        assert pod["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert pod["automountServiceAccountToken"] is False

    def test_sets_resource_requests_and_limits(self, container):
        """CPU and memory both have a request and a limit."""
        resources = container["resources"]
        assert sorted(resources) == ["limits", "requests"]
        assert sorted(resources["requests"]) == sorted(resources["limits"]) == ["cpu", "memory"]

    def test_runs_the_generated_config(self, pod, container, kustomization):
        """The container runs the image's CMD on the generated ConfigMap's config.yaml."""
        assert container["args"] == ["run", f"--config.file={CONFIG_PATH}"]
        assert mount_path(container, "config") == str(PurePosixPath(CONFIG_PATH).parent)
        (generator,) = kustomization["configMapGenerator"]
        assert volume(pod, "config")["configMap"] == {"name": generator["name"]}

    def test_token_is_the_secret_mounted_as_token_file(self, pod, container, kube_config):
        """token_file names the Secret's key in the directory the Secret is mounted on."""
        secret = load_yaml(KUBERNETES / "secret.example.yaml")
        assert volume(pod, "token")["secret"] == {
            "secretName": secret["metadata"]["name"],
            "defaultMode": 0o440,
        }
        (workspace,) = kube_config["workspaces"]
        assert workspace["token_file"] == mount_path(container, "token") + "/token"
        assert list(secret["stringData"]) == ["token"]
        assert "token" not in workspace

    def test_state_file_lives_on_an_empty_dir_volume(self, pod, container, kube_config):
        """state.file lies on the emptyDir state volume, outside the read-only root."""
        assert kube_config["state"]["file"] == mount_path(container, "state") + "/state.json"
        assert mount_path(container, "state") == STATE_DIR
        assert volume(pod, "state")["emptyDir"] == {"sizeLimit": "64Mi"}

    def test_config_is_valid(self, kube_config, tmp_path):
        """The Kubernetes config passes the exporter's validation with a token file present."""
        (tmp_path / "token").write_text("t0ken", encoding="utf-8")
        kube_config["workspaces"][0]["token_file"] = str(tmp_path / "token")
        config = parse_config(kube_config, {}, KUBERNETES)
        assert (config.workspaces[0].workspace, config.state.file) == (
            "demo",
            STATE_DIR + "/state.json",
        )

    def test_config_uses_only_keys_of_the_example(self, kube_config):
        """Every key of the Kubernetes config appears in config.example.yaml."""
        example = load_yaml(ROOT / "config.example.yaml")
        assert set(kube_config) <= set(example)
        for section in ("poll", "state", "metrics", "web"):
            assert set(kube_config.get(section) or {}) <= set(example.get(section) or {})
        example_keys = {k for w in example["workspaces"] for k in w} | {"token_file"}
        assert set(kube_config["workspaces"][0]) <= example_keys

    def test_service_exposes_the_metrics_port_of_the_pods(self, manifests):
        """The Service forwards port 9863, named metrics, to the Deployment's pods."""
        service, deployment = manifests["Service"], manifests["Deployment"]
        assert service["spec"]["ports"] == [
            {"name": "metrics", "port": 9863, "targetPort": "metrics", "protocol": "TCP"}
        ]
        assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]

    def test_service_monitor_scrapes_the_service(self, manifests):
        """The ServiceMonitor selects the Service's labels and scrapes its metrics port."""
        monitor, service = manifests["ServiceMonitor"], manifests["Service"]
        labels = monitor["spec"]["selector"]["matchLabels"]
        assert labels.items() <= service["metadata"]["labels"].items()
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] == service["spec"]["ports"][0]["name"]
        assert endpoint["path"] == "/metrics"

    def test_service_monitor_keeps_the_job_name_the_alerts_use(self, manifests):
        """Scrapes carry job="cention-logio", the job of prometheus.yml that alerts.yml reads."""
        (endpoint,) = manifests["ServiceMonitor"]["spec"]["endpoints"]
        assert endpoint["relabelings"] == [
            {"action": "replace", "targetLabel": "job", "replacement": prometheus_job()}
        ]
        assert f'up{{job="{prometheus_job()}"}}' in (PROMETHEUS / "alerts.yml").read_text(
            encoding="utf-8"
        )

    def test_prometheus_rule_is_the_generators_output(self):
        """prometheusrule.yaml is exactly what build_prometheusrule.py renders now."""
        committed = (KUBERNETES / "prometheusrule.yaml").read_text(encoding="utf-8")
        assert committed == load_generator().render(), (
            "deploy/kubernetes/prometheusrule.yaml is stale: "
            "run python deploy/kubernetes/build_prometheusrule.py"
        )

    def test_prometheus_rule_holds_the_rule_groups_of_the_rule_files(self, manifests):
        """The PrometheusRule's groups equal those of rules.yml then alerts.yml."""
        groups = [
            g for f in ("rules.yml", "alerts.yml") for g in load_yaml(PROMETHEUS / f)["groups"]
        ]
        assert manifests["PrometheusRule"]["spec"]["groups"] == groups
        assert len({g["name"] for g in groups}) == len(groups)

    def test_generator_reads_the_rule_files_prometheus_loads(self):
        """The generator reads the rule files prometheus.yml loads, in the same order."""
        rule_files = load_yaml(PROMETHEUS / "prometheus.yml")["rule_files"]
        assert list(load_generator().RULE_FILES) == rule_files

    def test_image_tag_is_the_package_version(self, kustomization, container):
        """The kustomization pins the image to the package's version."""
        assert kustomization["images"] == [{"name": container["image"], "newTag": __version__}]
        assert container["image"] == APP

    @needs("kubectl")
    def test_kustomize_builds_valid_manifests(self):
        """kubectl kustomize builds the directory into valid manifests wired together."""
        result = subprocess.run(
            ["kubectl", "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        built = {d["kind"]: d for d in yaml.safe_load_all(result.stdout)}
        assert sorted(built) == [
            "ConfigMap", "Deployment", "PrometheusRule", "Service", "ServiceMonitor",
        ]  # fmt: skip
        for kind in ("ConfigMap", "Deployment", "Service"):
            assert kubernetes_validate.validate(built[kind], kubernetes_versions()[-1], strict=True)
        pod = built["Deployment"]["spec"]["template"]["spec"]
        name = built["ConfigMap"]["metadata"]["name"]
        assert re.fullmatch(r"cention-logio-exporter-config-[a-z0-9]{10}", name)
        assert volume(pod, "config")["configMap"] == {"name": name}
        assert pod["containers"][0]["image"] == f"{APP}:{__version__}"
