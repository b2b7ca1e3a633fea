#!/usr/bin/env bash
# End-to-end test on a real Kind cluster (`make e2e`):
#   1. clusters/kind/bootstrap.sh with this script's CLUSTER_NAME (exported, so there is one
#      cluster and one context, kind-CLUSTER_NAME): cluster, images built from this checkout
#      and loaded, Argo CD syncing REPO_URL @ REVISION, platform healthy, first models seeded,
#      tenants healthy
#   2. every Argo CD Application Synced and Healthy
#   3. a new version of each tenant's catalog model (training/tenants.yaml), trained against
#      the in-cluster MLflow and promoted to the alias its Kind models.yaml follows
#   4. every model each tenant declares on Kind (its catalog model, and the others, such as
#      tenant-a-churn, which the bootstrap registered through the team's own script): the
#      Service serving it answers a prediction from the version its alias points at (or its
#      pinned version), on the model's own paths (/models/<model>/info, /models/<model>/predict)
# The cluster is deleted when the script ends, failed or not (KEEP_CLUSTER=1 keeps it).
#
# Needs: docker 28.0 or newer (daemon running; bootstrap.sh checks the version), kind, kubectl,
# git, curl, make. Argo CD clones REPO_URL itself, so REVISION must be pushed.
# Environment:
#   REPO_URL       repository Argo CD syncs (default: git remote origin)
#   REVISION       commit Argo CD syncs (default: HEAD)
#   CLUSTER_NAME   Kind cluster name (default: ml-inference-e2e)
#   SYNC_TIMEOUT   seconds to wait for Synced/Healthy (default: 900)
#   MODEL_TIMEOUT  seconds to wait for a service to serve the new version (default: 300)
#   KEEP_CLUSTER   1 to leave the cluster running afterwards (default: delete it)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

export CLUSTER_NAME=${CLUSTER_NAME:-ml-inference-e2e}
SYNC_TIMEOUT=${SYNC_TIMEOUT:-900}
MODEL_TIMEOUT=${MODEL_TIMEOUT:-300}
KEEP_CLUSTER=${KEEP_CLUSTER:-0}
PY=${PY:-$ROOT/.venv/bin/python}
MLFLOW_LOCAL_PORT=${MLFLOW_LOCAL_PORT:-15000}
SERVICE_LOCAL_PORT=${SERVICE_LOCAL_PORT:-18080}
KUBECTL=(kubectl --context "kind-$CLUSTER_NAME")
export PYTHONPATH="$ROOT/service:$ROOT"

FORWARDS=()
WORK=""

log() { printf '\n==> %s\n' "$*" >&2; }
die() {
  printf 'e2e: %s\n' "$*" >&2
  exit 1
}

cleanup() {
  local status=$? pid
  for pid in "${FORWARDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  [ -n "$WORK" ] && rm -rf "$WORK"
  if [ "$KEEP_CLUSTER" != 1 ] && kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    log "deleting Kind cluster $CLUSTER_NAME (exit status $status; KEEP_CLUSTER=1 keeps it)"
    kind delete cluster --name "$CLUSTER_NAME" || true
  fi
  return "$status"
}

require_tools() {
  local missing=() tool
  for tool in docker kind kubectl git curl make; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    die "missing: ${missing[*]}. make e2e needs Docker (docs.docker.com/engine/install), kind
(go install sigs.k8s.io/kind@v0.32.0, or a release binary) and kubectl on PATH."
  fi
  docker info >/dev/null 2>&1 ||
    die "docker is installed but its daemon is not reachable: start it, or add this user to the docker group"
  [ -f clusters/kind/kind-config.yaml ] || die "clusters/kind/kind-config.yaml is missing"
  [ -f clusters/kind/bootstrap.sh ] || die "clusters/kind/bootstrap.sh is missing"
}

# port_forward NAMESPACE TARGET LOCAL_PORT REMOTE_PORT: background port-forward, wait until it listens.
port_forward() {
  local namespace=$1 target=$2 local_port=$3 remote_port=$4 attempt
  "${KUBECTL[@]}" port-forward -n "$namespace" "$target" "$local_port:$remote_port" >/dev/null 2>&1 &
  FORWARDS+=("$!")
  for attempt in $(seq 1 30); do
    if "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
      "$local_port" 2>/dev/null; then
      return 0
    fi
    sleep 1
  done
  die "port-forward to $namespace/$target did not come up (tried $attempt times)"
}

stop_forwards() {
  local pid
  for pid in "${FORWARDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  FORWARDS=()
}

tenants() {
  "$PY" -m gitops inventory --cluster kind --tenants
}

# Prints nothing when every Application is Synced and Healthy, else one line per laggard.
applications_not_ready() {
  "${KUBECTL[@]}" get applications -n argocd -o json | "$PY" -c '
import json, sys
items = json.load(sys.stdin)["items"]
if not items:
    print("no Application yet")
for app in items:
    status = app.get("status") or {}
    sync = (status.get("sync") or {}).get("status", "Unknown")
    health = (status.get("health") or {}).get("status", "Unknown")
    if (sync, health) != ("Synced", "Healthy"):
        print(app["metadata"]["name"] + ": " + sync + "/" + health)'
}

wait_for_all_applications() {
  local deadline=$((SECONDS + SYNC_TIMEOUT)) lagging
  log "waiting up to ${SYNC_TIMEOUT}s for every Application to be Synced and Healthy"
  while :; do
    lagging=$(applications_not_ready 2>&1 || echo "kubectl get applications failed")
    if [ -z "$lagging" ]; then
      "${KUBECTL[@]}" get applications -n argocd
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      "${KUBECTL[@]}" get applications -n argocd -o wide || true
      die "Applications not Synced/Healthy after ${SYNC_TIMEOUT}s:
$lagging"
    fi
    sleep 10
  done
}

# What the Kind tree serves: `<tenant> <model> <@alias or /version> <Service>` per model.
served_models() {
  "$PY" -m gitops inventory --cluster kind --models
}

# catalog_model TENANT: the model `python -m training train --tenant` registers for it,
# <tenant>-<dataset> from training/tenants.yaml (training/lifecycle/catalog.py).
catalog_model() {
  "$PY" -c '
import sys, yaml
tenant, path = sys.argv[1:3]
with open(path, encoding="utf-8") as catalog:
    dataset = yaml.safe_load(catalog)["tenants"][tenant]["dataset"]
print(tenant + "-" + dataset)' "$1" training/tenants.yaml
}

# alias_version MODEL ALIAS: the version the registry's alias points at.
alias_version() {
  "$PY" -c '
import sys
from mlflow import MlflowClient
print(MlflowClient().get_model_version_by_alias(sys.argv[1], sys.argv[2]).version)' "$1" "$2"
}

latest_version() {
  "$PY" -c '
import sys
from mlflow import MlflowClient
versions = MlflowClient().search_model_versions("name=" + repr(sys.argv[1]))
print(max(int(v.version) for v in versions))' "$1"
}

train_and_promote() {
  local tenant models line model served service alias version
  log "training a new version of every tenant's catalog model against the in-cluster MLflow"
  models=$(served_models) || die "python -m gitops inventory --cluster kind --models failed"
  port_forward mlflow svc/mlflow "$MLFLOW_LOCAL_PORT" 5000
  export MLFLOW_TRACKING_URI="http://127.0.0.1:$MLFLOW_LOCAL_PORT"
  # As the trainer user the bootstrap created (training grants each tenant READ on it).
  export MLFLOW_TRACKING_USERNAME=trainer
  MLFLOW_TRACKING_PASSWORD=$("${KUBECTL[@]}" -n mlflow get secret mlflow-trainer-credentials \
    -o jsonpath='{.data.password}' | base64 -d)
  export MLFLOW_TRACKING_PASSWORD
  for tenant in $(tenants); do
    model=$(catalog_model "$tenant") || die "$tenant: not in training/tenants.yaml"
    line=$(grep -E "^$tenant $model " <<<"$models") ||
      die "$tenant: its models.yaml on Kind does not serve $model, the model training trains for it"
    read -r _ _ served service <<<"$line"
    [[ "$served" =~ ^@([A-Za-z0-9_-]+)$ ]] ||
      die "$tenant: $model is pinned to version ${served#/}; e2e moves an alias"
    alias=${BASH_REMATCH[1]}
    "$PY" -m training train --tenant "$tenant"
    version=$(latest_version "$model")
    # --force: the gate compares held-out metrics; a retrain on the same data may tie or
    # differ in the last digit, and this test is about delivery, not model quality.
    "$PY" -m training promote --model "$model" --version "$version" --alias "$alias" \
      --reason "e2e on Kind" --force
    printf '%s %s %s %s\n' "$tenant" "$model" "$version" "$service" >>"$WORK/expected"
  done
  # Every other declared model: whatever its alias points at now (the bootstrap set it).
  while read -r tenant model served service; do
    [[ -n "$tenant" ]] || continue
    grep -q "^$tenant $model " "$WORK/expected" && continue
    if [[ "$served" == /* ]]; then
      version=${served#/}
    else
      version=$(alias_version "$model" "${served#@}") ||
        die "$tenant: $model$served does not resolve in the registry"
    fi
    printf '%s %s %s %s\n' "$tenant" "$model" "$version" "$service" >>"$WORK/expected"
  done <<<"$models"
  stop_forwards
}

# check_tenant TENANT MODEL VERSION SERVICE: the Service in front of the model's pods answers
# from that model version, on the model's own paths (/models/<model>/info and /predict).
check_tenant() {
  local tenant=$1 model=$2 version=$3 service=$4 deadline url served
  port_forward "$tenant" "svc/$service" "$SERVICE_LOCAL_PORT" http
  url="http://127.0.0.1:$SERVICE_LOCAL_PORT"
  deadline=$((SECONDS + MODEL_TIMEOUT))
  # The service polls the registry (RELOAD_INTERVAL_SECONDS), so the new version arrives late.
  until served=$(curl -fsS "$url/models/$model/info" 2>/dev/null) &&
    [ "$("$PY" -c 'import json, sys; print(json.load(sys.stdin)["version"])' <<<"$served")" = "$version" ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "$tenant: not serving $model version $version after ${MODEL_TIMEOUT}s: ${served:-no answer}"
    sleep 5
  done
  predict "$url" "$model" "$version" "$served"
  stop_forwards
  log "$tenant: prediction served by $model version $version"
}

predict() {
  "$PY" -c '
import json, sys, urllib.request
url, model, version, info = sys.argv[1:5]
row = json.loads(info)["input_example"][0]
request = urllib.request.Request(
    f"{url}/models/{model}/predict",
    data=json.dumps(row).encode(),
    headers={"Content-Type": "application/json"},
)
with urllib.request.urlopen(request, timeout=30) as response:
    body = json.load(response)
served = body["model"]
if (served["name"], str(served["version"])) != (model, version):
    raise SystemExit(f"prediction came from {served}, expected {model} version {version}")
print(json.dumps({"model": served, "predictions": body["predictions"]}))' "$@"
}

main() {
  require_tools
  [ -x "$PY" ] || make venv
  REPO_URL=${REPO_URL:-$(git remote get-url origin)}
  REVISION=${REVISION:-$(git rev-parse HEAD)}
  export REPO_URL REVISION
  WORK=$(mktemp -d)
  trap cleanup EXIT

  log "bootstrapping Kind cluster $CLUSTER_NAME: $REPO_URL @ $REVISION"
  # The images come from this checkout, so the commit under test is what runs.
  IMAGE_SOURCE=build bash clusters/kind/bootstrap.sh

  wait_for_all_applications
  train_and_promote

  local tenant model version service
  while read -r tenant model version service; do
    check_tenant "$tenant" "$model" "$version" "$service"
  done <"$WORK/expected"
  log "e2e passed: every model every tenant declares is served from the version its alias points at"
}

main "$@"
