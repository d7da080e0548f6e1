#!/bin/bash
# Install (or update) the lakehouse project on the Prefect host and (re)start Prefect. Run as root:
#   lakehouse-update [--if-available] [--no-deploy] [s3://bucket/bundles/<name>.tar.gz]
# 1. fetch the bundle (a gzipped `git archive` of the repo; default s3://${artifacts_bucket}/${bundle_key}),
#    or clone the repository when no bundle exists and a repository URL was configured
# 2. sync it into /home/prefect/flows (keeping .venv and .lakehouse), `make install` as user prefect
# 3. restart prefect-server, wait for /api/health, create the work pool ${work_pool_name} if missing,
#    restart prefect-worker, and `prefect --no-prompt deploy --name '*-aws'` (the aws-pool deployments) when the project has a prefect.yaml
# --if-available: exit 0 when there is nothing to install yet (first boot before the first deploy).
set -euo pipefail

FLOWS_DIR=/home/prefect/flows
BUNDLE_URI="s3://${artifacts_bucket}/${bundle_key}"
REPOSITORY_URL="${repository_url}"
REPOSITORY_REF="${repository_ref}"
WORK_POOL="${work_pool_name}"
HEALTH_URL="http://127.0.0.1:${prefect_port}/api/health"
IF_AVAILABLE=false
DEPLOY=true

for arg in "$@"; do
  case "$arg" in
    --if-available) IF_AVAILABLE=true ;;
    --no-deploy) DEPLOY=false ;;
    s3://*) BUNDLE_URI="$arg" ;;
    *) echo "lakehouse-update: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

as_prefect() {
  # A login shell: /etc/profile.d/lakehouse.sh sets LAKEHOUSE_ROOT, PREFECT_API_URL, PYTHON=python3.11, ...
  runuser -l prefect -c "cd $FLOWS_DIR && $1"
}

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
mkdir "$workdir/src"

if aws s3 cp --only-show-errors "$BUNDLE_URI" "$workdir/bundle.tar.gz" 2>"$workdir/s3.err"; then
  echo "lakehouse-update: installing $BUNDLE_URI"
  tar -xzf "$workdir/bundle.tar.gz" -C "$workdir/src"
elif [ -n "$REPOSITORY_URL" ]; then
  echo "lakehouse-update: no bundle at $BUNDLE_URI; cloning $REPOSITORY_URL ($REPOSITORY_REF)"
  git clone --quiet --depth 1 --branch "$REPOSITORY_REF" "$REPOSITORY_URL" "$workdir/src"
elif [ "$IF_AVAILABLE" = true ]; then
  echo "lakehouse-update: no bundle at $BUNDLE_URI yet ($(tr -d '\n' <"$workdir/s3.err")); the deploy installs it"
  exit 0
else
  echo "lakehouse-update: cannot fetch $BUNDLE_URI: $(cat "$workdir/s3.err")" >&2
  echo "Upload a bundle first: git archive --format=tar.gz HEAD | aws s3 cp - $BUNDLE_URI" >&2
  exit 1
fi

# A `git archive --prefix=name/` bundle has one top directory: install from inside it.
src="$workdir/src"
if [ ! -f "$src/Makefile" ] && [ "$(find "$src" -mindepth 1 -maxdepth 1 | wc -l)" -eq 1 ]; then
  src=$(find "$src" -mindepth 1 -maxdepth 1 -type d)
fi
if [ ! -f "$src/Makefile" ]; then
  echo "lakehouse-update: $BUNDLE_URI holds no Makefile at its top: not a lakehouse bundle" >&2
  exit 1
fi

rsync -a --delete --exclude=/.venv --exclude=/.lakehouse --exclude=/lake "$src/" "$FLOWS_DIR/"
chown -R prefect:prefect "$FLOWS_DIR"

# Force a `uv sync` even if archive timestamps make the Makefile think .venv is current.
rm -f "$FLOWS_DIR/.venv/.installed"
as_prefect "make install"

systemctl restart prefect-server.service
for _ in $(seq 1 60); do
  curl -fsS "$HEALTH_URL" >/dev/null 2>&1 && break
  sleep 2
done
curl -fsS "$HEALTH_URL" >/dev/null || { echo "lakehouse-update: Prefect server not healthy at $HEALTH_URL" >&2; exit 1; }

as_prefect ".venv/bin/prefect work-pool inspect '$WORK_POOL' >/dev/null 2>&1 || .venv/bin/prefect work-pool create '$WORK_POOL' --type process"
systemctl restart prefect-worker.service

if [ "$DEPLOY" = true ] && [ -f "$FLOWS_DIR/prefect.yaml" ]; then
  as_prefect ".venv/bin/prefect --no-prompt deploy --name '*-aws'"
fi
echo "lakehouse-update: done ($(date -u +%FT%TZ))"
