#!/bin/bash
# First-boot bootstrap of the Prefect host (EC2 user data, rendered by terraform templatefile; cloud-init runs
# it once as root). Log: /var/log/lakehouse-bootstrap.log.
#   - packages: python3.11, git, make (+ uv from PyPI), user `prefect`
#   - /etc/lakehouse/lakehouse.env (LAKEHOUSE_ROOT, AWS_REGION, PREFECT_API_URL, telemetry off)
#   - /usr/local/bin/lakehouse-update: fetch the project bundle, `make install`, (re)start Prefect, deploy
#   - systemd units prefect-server.service and prefect-worker.service, enabled
set -euo pipefail
exec >>/var/log/lakehouse-bootstrap.log 2>&1
echo "== lakehouse bootstrap $(date -u +%FT%TZ)"

dnf install -y python3.11 python3.11-pip git make tar gzip rsync
python3.11 -m pip install --quiet --root-user-action=ignore "uv==${uv_version}"

id prefect >/dev/null 2>&1 || useradd --create-home --shell /bin/bash prefect
install -d -o prefect -g prefect -m 0750 /home/prefect/flows /home/prefect/.prefect

install -d -m 0755 /etc/lakehouse
cat >/etc/lakehouse/lakehouse.env <<'LAKEHOUSE_ENV_EOF'
${lakehouse_env}
LAKEHOUSE_ENV_EOF
chmod 0644 /etc/lakehouse/lakehouse.env

# Login shells (SSM sessions, `runuser -l prefect`) get the same environment as the services.
cat >/etc/profile.d/lakehouse.sh <<'PROFILE_EOF'
set -a
. /etc/lakehouse/lakehouse.env
set +a
PROFILE_EOF

cat >/usr/local/bin/lakehouse-update <<'UPDATE_EOF'
${update_script}
UPDATE_EOF
chmod 0755 /usr/local/bin/lakehouse-update

cat >/etc/systemd/system/prefect-server.service <<'SERVER_UNIT_EOF'
${server_unit}
SERVER_UNIT_EOF

cat >/etc/systemd/system/prefect-worker.service <<'WORKER_UNIT_EOF'
${worker_unit}
WORKER_UNIT_EOF

systemctl daemon-reload
systemctl enable prefect-server.service prefect-worker.service

# Install the project if a bundle (or repository_url) is there already; on a fresh stack the deploy workflow
# uploads the bundle after `terraform apply` and runs lakehouse-update through SSM.
/usr/local/bin/lakehouse-update --if-available
echo "== lakehouse bootstrap done $(date -u +%FT%TZ)"
