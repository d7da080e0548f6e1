"""Static checks of the GitHub Actions workflows (.github/workflows/): schema, triggers, OIDC, pinned actions,
the commands they run, and that what they read from terraform/ and prefect.yaml exists there."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
TERRAFORM = ROOT / "terraform"
ENVIRONMENTS = ("dev", "prod")
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _load(path: Path) -> dict[str, Any]:
    workflow = yaml.safe_load(path.read_text())
    # PyYAML reads the key `on` as the boolean True (YAML 1.1); GitHub reads it as "on".
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _run_scripts(workflow: dict[str, Any]) -> str:
    return "\n".join(step["run"] for step in _steps(workflow) if "run" in step)


def _step_using(workflow: dict[str, Any], action: str) -> dict[str, Any]:
    return next(step for step in _steps(workflow) if step.get("uses", "").startswith(f"{action}@"))


def test_workflows_are_valid_against_the_github_workflows_schema():
    check = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(check), "--builtin-schema", "vendor.github-workflows", str(CI), str(DEPLOY)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_to_a_commit_with_its_version_noted():
    for path in (CI, DEPLOY):
        for step in _steps(_load(path)):
            if "uses" in step:
                assert PINNED_USES.match(step["uses"]), f"{path.name}: pin {step['uses']} to a commit SHA"
        for line in path.read_text().splitlines():
            if "uses:" in line:
                assert re.search(r"# v\d+\.\d+\.\d+$", line), f"{path.name}: note the version: {line.strip()}"


# --- CI ----------------------------------------------------------------------------------------------


def test_ci_runs_on_pull_requests_and_pushes():
    triggers = _load(CI)["on"]
    assert "pull_request" in triggers and "push" in triggers


def test_ci_runs_make_test_and_make_lint_on_python_3_11_with_a_uv_cache():
    workflow = _load(CI)
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["env"]["PYTHON_VERSION"] == "3.11"
    jobs = workflow["jobs"]
    commands = {name: [s["run"].strip() for s in job["steps"] if "run" in s] for name, job in jobs.items()}
    assert ["make test"] in commands.values(), "a CI job must run `make test` (the same as .ci/run)"
    assert ["make lint"] in commands.values(), "a CI job must run `make lint`"
    for name, job in jobs.items():
        uses = [s.get("uses", "").split("@")[0] for s in job["steps"]]
        assert uses[:2] == ["actions/checkout", "actions/setup-python"], name
        cache = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/cache@"))
        assert cache["with"]["path"] == "~/.cache/uv" and "hashFiles('uv.lock'" in cache["with"]["key"]
        assert "timeout-minutes" in job
    assert "make test" in (ROOT / ".ci" / "run").read_text()


# --- deploy ------------------------------------------------------------------------------------------


def test_deploy_runs_on_push_to_main_and_by_hand_for_dev_or_prod():
    triggers = _load(DEPLOY)["on"]
    assert triggers["push"] == {"branches": ["main"]}
    environment = triggers["workflow_dispatch"]["inputs"]["environment"]
    assert environment["type"] == "choice" and tuple(environment["options"]) == ENVIRONMENTS
    assert environment["default"] == "dev"


def test_deploy_uses_oidc_and_no_stored_aws_keys():
    workflow = _load(DEPLOY)
    assert workflow["permissions"] == {"id-token": "write", "contents": "read"}
    credentials = _step_using(workflow, "aws-actions/configure-aws-credentials")["with"]
    assert credentials["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert not {"aws-access-key-id", "aws-secret-access-key", "aws-session-token"} & set(credentials)
    for path in (CI, DEPLOY):
        text = path.read_text()
        for forbidden in (
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "aws-secret-access-key",
            "secrets.AWS",
        ):
            assert forbidden not in text, (
                f"{path.name} must not use {forbidden}: the deploy role is assumed via OIDC"
            )
        assert not re.search(r"AKIA[0-9A-Z]{16}", text)


def test_deploy_job_runs_in_the_chosen_github_environment():
    """The role's trust policy matches repo:<repo>:environment:<env>; environments also hold approvals."""
    workflow = _load(DEPLOY)
    (job,) = workflow["jobs"].values()
    assert job["environment"] == "${{ inputs.environment || 'dev' }}"
    assert job["env"]["DEPLOY_ENV"] == "${{ inputs.environment || 'dev' }}"
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert "inputs.environment" in workflow["concurrency"]["group"]
    trust = (TERRAFORM / "iam.tf").read_text() if (TERRAFORM / "iam.tf").exists() else ""
    if trust:
        assert ":environment:${var.github_environment}" in trust


def test_deploy_runs_terraform_init_plan_apply_in_terraform_dir():
    workflow = _load(DEPLOY)
    (job,) = workflow["jobs"].values()
    assert job["defaults"]["run"]["working-directory"] == "terraform"
    scripts = _run_scripts(workflow)
    assert "terraform init -input=false" in scripts and "-backend-config=" in scripts
    assert re.search(
        r'terraform plan -input=false .*-var-file="environments/\$\{DEPLOY_ENV\}\.tfvars" -out=tfplan',
        scripts,
    )
    assert re.search(r"terraform apply -input=false .*tfplan", scripts)
    setup = _step_using(workflow, "hashicorp/setup-terraform")["with"]
    assert setup["terraform_wrapper"] is False, "`terraform output -raw` needs the plain binary"
    major, minor, _ = map(int, str(setup["terraform_version"]).split("."))
    versions = TERRAFORM / "versions.tf"
    if versions.exists():
        required = re.search(r'required_version\s*=\s*">=\s*(\d+)\.(\d+)"', versions.read_text())
        assert required and (major, minor) >= (int(required[1]), int(required[2]))


def test_deploy_reads_only_outputs_and_var_files_that_terraform_defines():
    if not list(TERRAFORM.glob("*.tf")):
        pytest.skip("terraform/ is not there yet")
    declared = set(re.findall(r'^output "([^"]+)"', _terraform_text(), re.MULTILINE))
    used = set(re.findall(r"terraform output -raw (\w+)", _run_scripts(_load(DEPLOY))))
    assert {"prefect_instance_id", "artifacts_bucket_name"} <= used
    assert used <= declared, f"outputs read by deploy.yml but not declared in terraform/: {used - declared}"
    for env in ENVIRONMENTS:
        assert (TERRAFORM / "environments" / f"{env}.tfvars").is_file(), env
    assert re.search(r'backend "s3"\s*\{\s*\}', _terraform_text()), "init passes the backend config"


def _terraform_text() -> str:
    return "\n".join(p.read_text() for p in sorted(TERRAFORM.glob("*.tf")))


def test_deploy_ships_a_git_archive_and_waits_for_the_ssm_command():
    scripts = _run_scripts(_load(DEPLOY))
    assert "git archive --format=tar.gz" in scripts
    assert "aws s3 cp" in scripts and "/bundles/lakehouse-${GITHUB_SHA}.tar.gz" in scripts
    assert "aws ssm send-command" in scripts and "--document-name AWS-RunShellScript" in scripts
    assert "aws ssm get-command-invocation" in scripts and '"$status" != "Success"' in scripts
    assert "/usr/local/bin/lakehouse-update" in scripts


def test_the_host_update_script_installs_into_the_flows_dir_and_deploys():
    """What the SSM command runs on the host (terraform/templates/lakehouse-update.sh) does the documented
    steps: sync into /home/prefect/flows, `make install`, deploy against the host's own API."""
    update = TERRAFORM / "templates" / "lakehouse-update.sh"
    if not update.exists():
        pytest.skip("terraform/templates/lakehouse-update.sh is not there yet")
    text = update.read_text()
    assert "FLOWS_DIR=/home/prefect/flows" in text
    assert "make install" in text
    assert "prefect --no-prompt deploy" in text
    assert "s3://*)" in text, "lakehouse-update takes the bundle URI the workflow passes"
    pulls = yaml.safe_load((ROOT / "prefect.yaml").read_text())["definitions"]["pull"]["aws"]
    assert pulls[0]["prefect.deployments.steps.set_working_directory"]["directory"] == "/home/prefect/flows"


def test_run_scripts_are_valid_bash():
    """Each `run:` block, with ${{ }} expressions replaced, passes `bash -n` (and shellcheck when present)."""
    shellcheck = shutil.which("shellcheck")
    for path in (CI, DEPLOY):
        for step in _steps(_load(path)):
            if "run" not in step:
                continue
            script = re.sub(r"\$\{\{[^}]*\}\}", "placeholder", step["run"])
            result = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, check=False)
            assert result.returncode == 0, (
                f"{path.name} step {step.get('name', step['run'][:40])!r}: {result.stderr}"
            )
            if shellcheck:
                lint = subprocess.run(
                    [shellcheck, "--shell=bash", "-e", "SC2154", "-"],
                    input=script,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert lint.returncode == 0, f"{path.name} step {step.get('name')!r}:\n{lint.stdout}"
