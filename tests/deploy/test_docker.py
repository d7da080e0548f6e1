"""Static checks of the Docker stack (docker/): no Docker engine needed.

The compose file is validated against the Compose Specification's JSON schema (check-jsonschema's vendored
copy), as written and after interpolation with docker/.env.example; its references (build context, Dockerfile,
variables, volumes, dependencies) are checked against the repository; the image installs the project with the
Makefile's own bootstrap; docker/test-prefect.sh is syntax-checked (and linted where shellcheck exists).
`docker compose config` runs too where the Compose v2 plugin is installed (it needs no daemon).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "docker-compose.yml"
ENV_EXAMPLE = DOCKER / ".env.example"
DOCKERFILE = DOCKER / "Dockerfile"
DOCKERIGNORE = DOCKER / "Dockerfile.dockerignore"
TEST_SCRIPT = DOCKER / "test-prefect.sh"
README = DOCKER / "README.md"

POOL = "lakehouse-local"
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; `$$` is a literal dollar.
VAR_REF = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE", re.IGNORECASE)
ONE_SHOT_CONDITION = "service_completed_successfully"


def _compose_text() -> str:
    return COMPOSE_FILE.read_text()


def _compose() -> dict[str, Any]:
    return yaml.safe_load(_compose_text())


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), (
            f"{ENV_EXAMPLE}:{number}: not KEY=VALUE: {line!r}"
        )
        assert key not in values, f"{ENV_EXAMPLE}:{number}: {key} is defined twice"
        values[key] = value
    return values


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of ${VAR}, ${VAR:-default} and ${VAR:?error} (enough for this file)."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if op in (":?", "?") and not value:
            raise AssertionError(f"required variable {name} is unset: {arg}")
        if op in (":-", "-") and not value:
            return arg or ""
        return value or ""

    return VAR_REF.sub(substitute, text).replace("$$", "$")


def _interpolated_compose() -> dict[str, Any]:
    return yaml.safe_load(_interpolate(_compose_text(), _env_example()))


def _compose_schema() -> dict[str, Any]:
    schema = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return json.loads(schema.read_text())


def _schema_errors(instance: dict[str, Any]) -> list[str]:
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _one_shot_services() -> set[str]:
    """Services that other services wait for with `service_completed_successfully`."""
    return {
        dep
        for service in _services().values()
        for dep, spec in (service.get("depends_on") or {}).items()
        if spec.get("condition") == ONE_SHOT_CONDITION
    }


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        current += (
            " " + stripped.removesuffix("\\").strip() if current else stripped.removesuffix("\\").strip()
        )
        if not stripped.endswith("\\"):
            logical.append(current)
            current = ""
    pairs = []
    for instruction in logical:
        keyword, _, args = instruction.partition(" ")
        pairs.append((keyword.upper(), args.strip()))
    return pairs


# --- the compose file --------------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_spec_schema():
    assert _schema_errors(_compose()) == []


def test_compose_file_is_valid_after_interpolation_with_env_example():
    assert _schema_errors(_interpolated_compose()) == []


def test_every_variable_in_the_compose_file_is_defined_in_env_example_and_vice_versa():
    used = {m["name"] for m in VAR_REF.finditer(_compose_text())}
    defined = set(_env_example())
    assert used - defined == set(), f"used in {COMPOSE_FILE.name} but missing from .env.example"
    assert defined - used == set(), f"defined in .env.example but not used by {COMPOSE_FILE.name}"


def test_secrets_are_required_variables_never_literals_or_defaults():
    text = _compose_text()
    for service_name, service in _services().items():
        for key, value in (service.get("environment") or {}).items():
            if not SECRET_NAME.search(key):
                continue
            assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", str(value)), (
                f"{service_name}.environment.{key} must be a required variable from .env "
                f"(${{VAR:?set in docker/.env}}), not {value!r}"
            )
    # secrets embedded in a larger value (a connection URL) are required variables too
    for match in VAR_REF.finditer(text):
        if SECRET_NAME.search(match["name"]):
            assert match["op"] == ":?", f"${{{match['name']}}} must be required (:?), not {match[0]}"
    assert not re.search(r"AKIA[0-9A-Z]{16}|minioadmin|change-me", text), "a credential-like literal"


def test_env_example_holds_only_placeholder_secrets():
    for key, value in _env_example().items():
        if SECRET_NAME.search(key) and not key.endswith("_ID"):
            assert value.startswith("change-me"), f"{key} in .env.example must be a change-me placeholder"
            assert len(value) >= 8, f"{key}: MinIO refuses secrets shorter than 8 characters"


def test_real_env_file_is_git_ignored():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "check-ignore", "-q", "docker/.env"], cwd=ROOT, check=False)
    assert result.returncode == 0, "docker/.env must be git-ignored"


def test_published_ports_are_the_documented_ones_on_localhost():
    services = _interpolated_compose()["services"]
    expected = {
        "prefect-server": {"127.0.0.1:4200:4200"},
        "minio": {"127.0.0.1:9000:9000", "127.0.0.1:9001:9001"},
        "postgres": {"127.0.0.1:5432:5432"},
    }
    published = {name: set(map(str, s.get("ports", []))) for name, s in services.items() if s.get("ports")}
    assert published == expected
    readme = README.read_text()
    for url in ("http://localhost:4200", "http://localhost:9001"):
        assert url in readme, f"docker/README.md should tell where to open {url}"


def test_every_service_has_a_healthcheck_or_is_a_one_shot_job():
    one_shot = _one_shot_services()
    for name, service in _services().items():
        if name in one_shot:
            assert service.get("restart", "no") == "no", f"one-shot job {name} must not restart"
            assert "healthcheck" not in service
            continue
        test = (service.get("healthcheck") or {}).get("test")
        assert test and test != ["NONE"], f"service {name} needs a healthcheck (or be a one-shot job)"


def test_dependencies_wait_for_health_or_completion():
    services = _services()
    one_shot = _one_shot_services()
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}.depends_on must use conditions, not a plain list"
        for dep, spec in depends_on.items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            expected = ONE_SHOT_CONDITION if dep in one_shot else "service_healthy"
            assert spec.get("condition") == expected, f"{name} -> {dep}: condition should be {expected}"
    worker = services["worker"]["depends_on"]
    assert set(worker) == {"prefect-server", "minio", "minio-init"}
    assert services["prefect-server"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_images_are_pinned_and_prefect_server_matches_the_locked_client():
    services = _services()
    for name, service in services.items():
        if "build" in service:
            continue
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and "${" not in image, f"{name}: pin the image tag ({image})"
    assert services["postgres"]["image"] == "postgres:16-alpine"
    assert re.fullmatch(r"minio/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ", services["minio"]["image"])
    assert re.fullmatch(r"minio/mc:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ", services["minio-init"]["image"])
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    prefect_pin = next(d for d in dependencies if re.match(r"prefect\s*==", d)).split("==")[1].strip()
    assert services["prefect-server"]["image"] == f"prefecthq/prefect:{prefect_pin}-python3.11"


def test_prefect_server_uses_postgres_and_has_analytics_off():
    server = _interpolated_compose()["services"]["prefect-server"]
    env = server["environment"]
    assert env["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in env["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert server["command"][:5] == ["prefect", "server", "start", "--host", "0.0.0.0"]
    assert "/api/health" in " ".join(server["healthcheck"]["test"])


def test_worker_points_the_lake_at_the_minio_bucket():
    compose = _interpolated_compose()
    env = compose["services"]["worker"]["environment"]
    bucket = _env_example()["LAKE_BUCKET"]
    assert env["LAKEHOUSE_ROOT"] == f"s3://{bucket}/lakehouse"
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000"
    assert env["AWS_ALLOW_HTTP"] == "true"
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    init = compose["services"]["minio-init"]
    script = " ".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert 'mc mb --ignore-existing "lake/$LAKE_BUCKET"' in script
    assert init["environment"]["LAKE_BUCKET"] == bucket


def test_worker_serves_the_pool_the_local_deployments_target():
    command = _services()["worker"]["command"]
    assert command[:3] == ["prefect", "worker", "start"]
    assert command[command.index("--pool") + 1] == POOL
    assert "--with-healthcheck" in command
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    local = [d for d in deployments if d["name"].endswith("-local")]
    assert local and {d["work_pool"]["name"] for d in local} == {POOL}


def test_referenced_files_and_volumes_exist():
    compose = _compose()
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = (DOCKER / build["context"]).resolve()
            assert context.is_dir(), f"{name}: build context {context} is missing"
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), f"{name}: Dockerfile missing"
        for env_file in service.get("env_file") or []:
            path = env_file if isinstance(env_file, str) else env_file["path"]
            assert (DOCKER / path).is_file() or path.endswith(".env"), f"{name}: env_file {path} is missing"
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                assert (DOCKER / source).exists(), f"{name}: mounted {source} is missing"
            else:
                assert source in (compose.get("volumes") or {}), f"{name}: volume {source} is not declared"


def test_docker_compose_config_accepts_the_file():
    """The real parser, where it exists: `docker compose config` is client-side only (no daemon)."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client")
    if subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode != 0:
        pytest.skip("the Docker Compose v2 plugin is not installed (`docker compose` is unavailable)")
    base = [docker, "compose", "-f", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE)]
    result = subprocess.run([*base, "config", "--quiet"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    rendered = subprocess.run(
        [*base, "config", "--format", "json"], capture_output=True, text=True, check=True
    )
    ports = {
        p["published"] for s in json.loads(rendered.stdout)["services"].values() for p in s.get("ports", [])
    }
    assert ports == {"4200", "9000", "9001", "5432"}
    # without the env file a required secret is unset: compose stops with the file's message
    missing = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "--env-file", "/dev/null", "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode != 0 and "set in docker/.env" in missing.stderr


# --- the image ---------------------------------------------------------------------------------------


def _makefile_rules() -> dict[str, tuple[list[str], list[str]]]:
    """target -> (prerequisites, recipe lines) of the Makefile, with its simple variables expanded."""
    text = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^([A-Z_]+) \??:?= (.+)$", text, re.MULTILINE))

    def expand(word: str) -> str:
        return re.sub(
            r"\$\(([A-Z_]+)\)", lambda m: expand(variables[m[1]]) if m[1] in variables else m[0], word
        )

    rules: dict[str, tuple[list[str], list[str]]] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith("\t") and current:
            rules[current][1].append(expand(line.strip().lstrip("@")))
            continue
        match = re.match(r"^([^\s:=#][^:=]*?):(?!=)\s*(.*)$", line)
        current = expand(match[1]) if match else None
        if match and current:
            rules[current] = ([expand(p) for p in match[2].split()], [])
    return rules


def _makefile_recipe(target: str, rules: dict[str, tuple[list[str], list[str]]] | None = None) -> list[str]:
    """The recipe of a target followed by the recipes of the prerequisites it builds."""
    rules = rules if rules is not None else _makefile_rules()
    prerequisites, recipe = rules[target]
    lines = list(recipe)
    for prerequisite in prerequisites:
        if prerequisite in rules:
            lines += _makefile_recipe(prerequisite, rules)
    return lines


def test_image_installs_the_project_with_the_makefiles_own_install():
    instructions = _dockerfile_instructions()
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    install = [r for r in runs if re.search(r"\bmake install\b", r)]
    assert len(install) == 1, "the Dockerfile should run `make install` exactly once"
    words = [w for w in shlex.split(install[0]) if not w.startswith("--mount=")]
    assert words == ["make", "install"], f"run the Makefile's bootstrap as it is, not {install[0]!r}"
    for other in runs:
        assert not re.search(r"\b(uv|pip) (sync|install)\b", other), f"a second install path: {other!r}"
    recipe = " ; ".join(_makefile_recipe("install"))
    assert "uv sync --frozen" in recipe, "make install is the locked `uv sync --frozen`"
    assert "pip install" in recipe and "uv==" in recipe, "make install bootstraps uv itself"


def test_image_base_user_healthcheck_and_default_command():
    instructions = _dockerfile_instructions()
    keywords = [k for k, _ in instructions]
    assert instructions[0] == ("FROM", "python:3.11-slim")
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert ">=3.11" in requires and "<3.12" in requires
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"
    assert keywords.index("USER") < keywords.index("RUN", keywords.index("COPY")), "install as that user"
    assert "make" in next(a for k, a in instructions if k == "RUN" and "apt-get install" in a)
    assert "HEALTHCHECK" in keywords
    cmd = json.loads(next(a for k, a in instructions if k == "CMD"))
    assert cmd[:3] == ["prefect", "worker", "start"] and cmd[cmd.index("--pool") + 1] == POOL
    env = " ".join(a for k, a in instructions if k == "ENV")
    workdir = next(a for k, a in instructions if k == "WORKDIR")
    # prefect.yaml's local pull step resolves {{ $LAKEHOUSE_PROJECT_DIR }} when deploying inside the worker
    assert f"LAKEHOUSE_PROJECT_DIR={workdir}" in env
    assert "$LAKEHOUSE_PROJECT_DIR" in (ROOT / "prefect.yaml").read_text()


def _ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics for a plain path: the last matching pattern wins; '!' re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        variants = {pattern, pattern.removeprefix("**/")}
        if any(fnmatch.fnmatch(prefix, v) for prefix in prefixes for v in variants) or (
            pattern.startswith("**/") and any(fnmatch.fnmatch(p, pattern[3:]) for p in parts)
        ):
            ignored = not negate
    return ignored


def test_build_context_keeps_what_make_install_needs_and_drops_local_state():
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = ["pyproject.toml", "uv.lock", "Makefile", project["project"]["readme"], "prefect.yaml"]
    needed += project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    needed += ["dbt_project/dbt_project.yml", "dbt_project/profiles.yml", "dbt_project/models"]
    for path in needed:
        assert (ROOT / path).exists(), path
        assert not _ignored(path, patterns), f"{path} is needed in the image but {DOCKERIGNORE.name} drops it"
    for path in (".venv", "lake", ".git", ".pytest_cache", "test-artifacts", ".env", "dbt_project/target"):
        assert _ignored(path, patterns), f"{path} must stay out of the build context"
    # the compose build uses the Dockerfile-specific ignore file (BuildKit: <Dockerfile>.dockerignore)
    assert _services()["worker"]["build"]["dockerfile"] == "docker/Dockerfile"


# --- docker/test-prefect.sh -------------------------------------------------------------------------


def test_test_script_is_valid_bash_and_executable():
    assert TEST_SCRIPT.stat().st_mode & 0o111, "docker/test-prefect.sh must be executable"
    result = subprocess.run(["bash", "-n", str(TEST_SCRIPT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    text = TEST_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text


def test_test_script_is_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck); bash -n still runs")
    result = subprocess.run([shellcheck, str(TEST_SCRIPT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_test_script_runs_the_deployment_that_prefect_yaml_defines():
    text = TEST_SCRIPT.read_text()
    deployment = re.search(r'^readonly DEPLOYMENT="([^"/]+)/([^"]+)"', text, re.MULTILINE)
    pool = re.search(r'^readonly POOL="([^"]+)"', text, re.MULTILINE)
    assert deployment and pool and pool[1] == POOL
    flow_name, deployment_name = deployment[1], deployment[2]
    spec = next(
        d
        for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
        if d["name"] == deployment_name
    )
    assert spec["work_pool"]["name"] == POOL
    source, function = spec["entrypoint"].split(":")
    if not source.endswith(".py"):  # a module path (orchestration.flows.nightly)
        source = source.replace(".", "/") + ".py"
    flow_source = (ROOT / source).read_text()
    assert re.search(rf'@flow\(name="{re.escape(flow_name)}"[^)]*\)\s*def {function}\(', flow_source)
    for needle in (
        "docker compose -f",
        "up -d",
        "--env-file",
        "prefect work-pool create",
        "prefect --no-prompt deploy",
        "prefect deployment run",
        "--watch",
        "down --volumes",
    ):
        assert needle in text, f"docker/test-prefect.sh should run `{needle}`"


def test_test_script_help_and_argument_errors_need_no_docker():
    ok = subprocess.run([str(TEST_SCRIPT), "--help"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "--down" in ok.stdout
    bad = subprocess.run([str(TEST_SCRIPT), "--bogus"], capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "unknown argument" in bad.stderr
