#!/usr/bin/env bash
# End-to-end check of the Docker stack: build and start it (Postgres, Prefect server, MinIO, worker), deploy
# the flows to work pool lakehouse-local, run the nightly flow against the lake in MinIO and print its summary.
# Exits non-zero when the stack does not come up healthy or the flow run does not complete.
#
#   docker/test-prefect.sh                          # up --build, deploy, run lakehouse-nightly/nightly-local
#   docker/test-prefect.sh --date 2026-11-20 --scale 0.1
#   docker/test-prefect.sh --down                   # stop the stack and delete its volumes (lake included)
#
# Options: --env-file FILE (default docker/.env), --date YYYY-MM-DD, --scale N, --timeout SECONDS (flow run),
#          --no-build (reuse the built image), --down, -h|--help.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly COMPOSE_FILE="$HERE/docker-compose.yml"
readonly POOL="lakehouse-local"
readonly DEPLOYMENT="lakehouse-nightly/nightly-local"
readonly SUMMARY_ARTIFACT="lakehouse-run-summary"
readonly HEALTH_TIMEOUT=300

env_file="$HERE/.env"
run_date=""
scale=""
run_timeout=1800
build=(--build)
action="test"

log() { printf '\n==> %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}
usage() { sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

compose() { docker compose -f "$COMPOSE_FILE" --env-file "$env_file" "$@"; }
in_worker() { compose exec -T worker "$@"; }

parse_args() {
  while (($#)); do
    case "$1" in
      --env-file) env_file="${2:?--env-file needs a path}"; shift ;;
      --date) run_date="${2:?--date needs YYYY-MM-DD}"; shift ;;
      --scale) scale="${2:?--scale needs a number}"; shift ;;
      --timeout) run_timeout="${2:?--timeout needs seconds}"; shift ;;
      --no-build) build=() ;;
      --down) action="down" ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
}

preflight() {
  docker compose version >/dev/null 2>&1 \
    || die "'docker compose' (Compose v2 plugin) is not available: install Docker Engine with the compose plugin"
  if [[ ! -f "$env_file" ]]; then
    if [[ "$action" == "down" ]]; then
      env_file="$HERE/.env.example" # only for interpolating the file; down needs no real values
    else
      die "no $env_file: cp docker/.env.example docker/.env and change its placeholder secrets"
    fi
  fi
}

# Health of one service's container: healthy | unhealthy | starting | exited | missing ...
service_health() {
  local id
  id="$(compose ps -q "$1")"
  [[ -n "$id" ]] || { echo missing; return; }
  docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id"
}

wait_healthy() {
  local deadline=$((SECONDS + HEALTH_TIMEOUT)) service status
  for service in "$@"; do
    while true; do
      status="$(service_health "$service")"
      [[ "$status" != "healthy" ]] || break
      if [[ "$status" == "unhealthy" || "$status" == "exited" ]] || ((SECONDS > deadline)); then
        compose ps -a
        compose logs --tail 80 "$service"
        die "service '$service' is $status (not healthy after ${HEALTH_TIMEOUT}s)"
      fi
      sleep 3
    done
    echo "$service: healthy"
  done
}

print_outcome() {
  log "Run summary (Prefect artifact '$SUMMARY_ARTIFACT')"
  in_worker python - "$SUMMARY_ARTIFACT" <<'PY' || true
import json, subprocess, sys

key = sys.argv[1]
out = subprocess.run(
    ["prefect", "artifact", "inspect", key, "--limit", "1", "--output", "json"],
    capture_output=True, text=True, check=False,
).stdout
try:
    print(json.loads(out)[0]["data"])
except (ValueError, IndexError, KeyError):
    print(f"(no artifact {key!r} yet)")
PY
  log "Lake zones in MinIO"
  # shellcheck disable=SC2016  # expanded by the container's shell, from its own environment
  compose run --rm --no-deps --entrypoint /bin/sh minio-init -euc \
    'mc alias set lake http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
     mc ls "lake/$LAKE_BUCKET/lakehouse/"' || true
}

run_test() {
  log "Starting the stack (docker compose up -d ${build[*]+${build[*]}})"
  # ${a[@]+"${a[@]}"}: an empty array under `set -u` in bash 3.2 (macOS) too
  if ! compose up -d ${build[@]+"${build[@]}"}; then
    compose ps -a
    compose logs --tail 80
    die "the stack did not start (see the logs above)"
  fi
  wait_healthy postgres minio prefect-server worker

  log "Work pool $POOL"
  in_worker prefect work-pool inspect "$POOL" >/dev/null 2>&1 \
    || in_worker prefect work-pool create "$POOL" --type process

  log "Deploying the *-local deployments of prefect.yaml"
  in_worker prefect --no-prompt deploy --name '*-local'

  local params=()
  [[ -z "$run_date" ]] || params+=(--param "run_date=$run_date")
  [[ -z "$scale" ]] || params+=(--param "scale=$scale")
  log "Running $DEPLOYMENT against s3:// in MinIO (waiting up to ${run_timeout}s)"
  local rc=0
  in_worker prefect deployment run "$DEPLOYMENT" ${params[@]+"${params[@]}"} --watch --watch-timeout "$run_timeout" || rc=$?

  print_outcome
  if ((rc != 0)); then
    log "Worker logs (last 100 lines)"
    compose logs --tail 100 worker
    die "flow run of $DEPLOYMENT did not complete (exit $rc); Prefect UI: http://localhost:${PREFECT_PORT:-4200}"
  fi
  log "OK: $DEPLOYMENT completed. Prefect UI http://localhost:${PREFECT_PORT:-4200}, MinIO console http://localhost:${MINIO_CONSOLE_PORT:-9001}"
  echo "Tear down with: docker/test-prefect.sh --down"
}

main() {
  parse_args "$@"
  preflight
  # ports for the messages (the compose file reads the same file)
  set -a
  # shellcheck disable=SC1090
  source <(grep -E '^(PREFECT_PORT|MINIO_CONSOLE_PORT)=' "$env_file" || true)
  set +a
  case "$action" in
    down)
      log "Removing the stack and its volumes"
      compose down --volumes --remove-orphans
      ;;
    test) run_test ;;
  esac
}

main "$@"
