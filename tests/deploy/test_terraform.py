"""Static checks of the AWS infrastructure in terraform/ (no AWS account, no provider download).

`terraform validate` needs the AWS provider, which cannot be downloaded here, so the checks are:
`terraform fmt`, checkov (in its own locked env, created by `make test`), `bash -n` on the bootstrap
templates, and assertions on the HCL text for the properties the stack promises (no SSH, IMDSv2,
encryption, the outputs the deploy workflow reads).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TF_DIR = REPO / "terraform"
CHECKOV = REPO / "tools" / "checkov" / ".venv" / "bin" / "checkov"
CHECKOV_TIMEOUT_S = 180

# Outputs read by .github/workflows/deploy.yml and the README.
REQUIRED_OUTPUTS = {
    "prefect_instance_id",
    "lake_bucket_name",
    "artifacts_bucket_name",
    "github_deploy_role_arn",
    "aws_region",
    "ssm_port_forward_command",
}


def tf_files() -> list[Path]:
    return sorted(TF_DIR.rglob("*.tf"))


@cache
def tf_text() -> str:
    return "\n".join(p.read_text() for p in tf_files())


def balanced(text: str, start: int) -> str:
    """Text after the `{` that ends at `start` up to its matching `}` (braces inside strings ignored)."""
    depth, in_string, i = 1, False, start
    while depth:
        ch = text[i]
        if ch == '"' and text[i - 1] != "\\":
            in_string = not in_string
        elif not in_string and ch in "{}":
            depth += 1 if ch == "{" else -1
        i += 1
    return text[start : i - 1]


def block(kind: str, *labels: str) -> str:
    """Body of the first `kind "label" ... {` block in terraform/*.tf."""
    head = re.escape(kind) + "".join(rf'\s+"{re.escape(label)}"' for label in labels) + r"\s*\{"
    match = re.search(head, tf_text())
    assert match, f"no {kind} {' '.join(labels)} block in terraform/"
    return balanced(tf_text(), match.end())


def without_comments(hcl: str) -> str:
    return "\n".join(
        re.sub(r"\s(#|//).*$", "", line)
        for line in hcl.splitlines()
        if not line.lstrip().startswith(("#", "//"))
    )


def tfvars_names(path: Path) -> set[str]:
    return set(re.findall(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*=", path.read_text(), flags=re.MULTILINE))


# --- terraform fmt --------------------------------------------------------------------------------


def terraform_bin() -> str:
    found = shutil.which("terraform") or (
        "/usr/local/bin/terraform" if Path("/usr/local/bin/terraform").exists() else None
    )
    if not found:
        pytest.fail("terraform binary not found on PATH (expected /usr/local/bin/terraform; see STACK-NOTES)")
    return found


def test_terraform_fmt_is_clean() -> None:
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    proc = subprocess.run(
        [terraform_bin(), "fmt", "-check", "-recursive", "-diff", str(TF_DIR)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, f"run `terraform fmt -recursive terraform/`:\n{proc.stdout}\n{proc.stderr}"


# --- checkov --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkov_reports() -> list[dict[str, Any]]:
    if not CHECKOV.exists():
        pytest.fail(
            f"checkov is not installed ({CHECKOV} is missing): run `make test` (creates tools/checkov/.venv)"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_", "CKV_"))}
    env.update(
        {
            "BC_SKIP_MAPPING": "TRUE",  # no download of the check-id mapping
            "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
            "CHECKPOINT_DISABLE": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    cmd = [str(CHECKOV), "-d", str(TF_DIR), "--framework", "terraform", "secrets"]
    cmd += ["--quiet", "--compact", "--skip-download", "-o", "json"]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=CHECKOV_TIMEOUT_S)
    elapsed = time.monotonic() - started
    assert proc.stdout.strip(), f"checkov printed no report (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    data = json.loads(proc.stdout)
    reports = data if isinstance(data, list) else [data]
    print(f"checkov ran in {elapsed:.1f} s: {[r.get('summary') for r in reports]}")
    return reports


def test_checkov_reports_no_failed_checks(checkov_reports: list[dict[str, Any]]) -> None:
    summaries = [r["summary"] for r in checkov_reports if "summary" in r]
    assert any(r.get("check_type") == "terraform" for r in checkov_reports), "checkov did not scan terraform"
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): {c['check_name']}"
        for r in checkov_reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "checkov failed checks (fix them, or skip inline with a reason):\n" + "\n".join(failed)
    assert sum(s.get("parsing_errors", 0) for s in summaries) == 0, summaries
    assert sum(s.get("passed", 0) for s in summaries) > 0, f"checkov passed no check: {summaries}"


def test_every_checkov_skip_has_a_reason() -> None:
    skips = re.findall(r"checkov:skip=([^\s:]+)(?::(.*))?", tf_text())
    assert skips, "expected inline checkov skips (e.g. the access-log bucket's SSE-S3)"
    for check_id, reason in skips:
        assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", check_id), f"malformed checkov skip id: {check_id}"
        assert reason and len(reason.strip()) >= 20, f"checkov:skip={check_id} needs a real reason after ':'"


# --- security properties in the HCL ---------------------------------------------------------------


def test_no_ssh_key_pair_and_no_ssh_ingress() -> None:
    code = without_comments(tf_text())
    assert not re.search(r"^\s*key_name\s*=", code, re.MULTILINE), "the host must not have an SSH key pair"
    assert not re.search(r"\bingress\s*\{", code), (
        "no inline ingress blocks: use explicit ingress rule resources"
    )
    for port in re.findall(r"(?:from_port|to_port)\s*=\s*(\d+)", code):
        assert port != "22", "no rule may open port 22"
    assert 'resource "aws_security_group_rule"' not in code, "use aws_vpc_security_group_*_rule resources"
    for match in re.finditer(r'resource\s+"aws_vpc_security_group_ingress_rule"\s+"[^"]+"\s*\{', code):
        body = balanced(code, match.end())
        assert not re.search(
            r"^\s*security_group_id\s*=\s*aws_security_group\.prefect\.id", body, re.MULTILINE
        ), "the Prefect host's security group must have no inbound rule"


def test_instance_is_private_with_imdsv2_and_encrypted_root_volume() -> None:
    body = without_comments(block("resource", "aws_instance", "prefect"))
    assert re.search(r'http_tokens\s*=\s*"required"', body), "IMDSv2 must be required"
    assert re.search(r"encrypted\s*=\s*true", body), "the root volume must be encrypted"
    assert re.search(r"kms_key_id\s*=\s*aws_kms_key\.", body), "the root volume must use the stack's KMS key"
    assert not re.search(r"associate_public_ip_address\s*=\s*true", body), "the host must have no public IP"
    assert re.search(r"subnet_id\s*=\s*aws_subnet\.private", body), "the host must sit in a private subnet"
    assert re.search(r"monitoring\s*=\s*true", body) and re.search(r"ebs_optimized\s*=\s*true", body)
    assert re.search(r"iam_instance_profile\s*=", body)
    assert "user_data" in body and "templatefile(" in tf_text()


def test_buckets_are_kms_encrypted_versioned_and_tls_only() -> None:
    code = without_comments(tf_text())
    assert re.search(r'sse_algorithm\s*=\s*"aws:kms"', code)
    assert re.search(r"enable_key_rotation\s*=\s*true", code)
    assert code.count('variable = "aws:SecureTransport"') >= 2, (
        "every bucket policy must deny non-TLS requests"
    )
    assert code.count('status = "Enabled"') >= 2
    assert re.search(r"abort_incomplete_multipart_upload", code)
    assert re.search(r'prefix\s*=\s*"\$\{var\.lake_prefix\}/landing/"', code), "landing/ must expire"


def test_deploy_role_trusts_only_the_repository() -> None:
    body = block("data", "aws_iam_policy_document", "github_assume")
    assert (
        "token.actions.githubusercontent.com:sub" in body
        and "token.actions.githubusercontent.com:aud" in body
    )
    assert "repo:${var.github_repository}:" in body
    assert "*" not in re.sub(r"#.*", "", body), "no wildcard in the deploy role's trust policy"


# --- interface with the deploy workflow and the environments --------------------------------------


def test_required_outputs_exist() -> None:
    outputs = set(re.findall(r'^output\s+"([^"]+)"', tf_text(), flags=re.MULTILINE))
    assert outputs >= REQUIRED_OUTPUTS, f"missing outputs: {sorted(REQUIRED_OUTPUTS - outputs)}"
    forward = block("output", "ssm_port_forward_command")
    assert "AWS-StartPortForwardingSession" in forward and "aws_instance.prefect.id" in forward


def test_environments_define_the_same_declared_variables() -> None:
    dev = tfvars_names(TF_DIR / "environments" / "dev.tfvars")
    prod = tfvars_names(TF_DIR / "environments" / "prod.tfvars")
    assert dev == prod, (
        f"dev/prod tfvars differ: only dev {sorted(dev - prod)}, only prod {sorted(prod - dev)}"
    )
    declared = set(re.findall(r'^variable\s+"([^"]+)"', tf_text(), flags=re.MULTILINE))
    assert dev <= declared, f"tfvars set undeclared variables: {sorted(dev - declared)}"
    required = {name for name in declared if "default" not in block("variable", name)}
    assert required <= dev, f"tfvars miss required variables: {sorted(required - dev)}"
    for name in declared:
        assert re.search(r"description\s*=", block("variable", name)), f"variable {name} needs a description"


def test_backend_example_uses_s3_native_locking() -> None:
    example = (TF_DIR / "backend.hcl.example").read_text()
    assert re.search(r"use_lockfile\s*=\s*true", example) and re.search(r"encrypt\s*=\s*true", example)
    assert re.search(r'backend\s+"s3"', tf_text())


def test_templates_are_valid_bash() -> None:
    scripts = sorted((TF_DIR / "templates").glob("*.sh"))
    assert scripts, "expected bootstrap scripts in terraform/templates/"
    for script in scripts:
        proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, f"{script.name}: {proc.stderr}"


def test_templatefile_variables_are_passed() -> None:
    """Every ${name} in a template is passed by its templatefile() call (else terraform fails at plan)."""
    code = tf_text()
    for template in sorted((TF_DIR / "templates").iterdir()):
        call = re.search(
            r'templatefile\("\$\{path\.module\}/templates/' + re.escape(template.name) + r'",\s*\{', code
        )
        assert call, f"templates/{template.name} is not rendered by any templatefile() call"
        passed = set(re.findall(r"^\s*([a-z_]+)\s*=", balanced(code, call.end()), flags=re.MULTILINE))
        used = set(re.findall(r"(?<!\$)\$\{([a-z_]+)\}", template.read_text()))
        assert used, f"templates/{template.name} uses no template variable: is it rendered for nothing?"
        assert used <= passed, f"templates/{template.name} uses {sorted(used - passed)} that are not passed"
