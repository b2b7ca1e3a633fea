# shellcheck shell=bash
# Sourced by clusters/<cluster>/bootstrap.sh: the steps both clusters take once the root
# Application is applied. The caller sets CLUSTER (kind or eks), KUBECTL (kubectl with the
# cluster's --context), REPO_ROOT, PY (the repository's Python), MLFLOW_LOCAL_PORT and
# defines log and die.

# What the tree says about this cluster (Applications, images, Secrets), rendered offline.
inventory() {
  (cd "$REPO_ROOT" && PYTHONPATH="$REPO_ROOT/service:$REPO_ROOT" "$PY" -m gitops inventory --cluster "$CLUSTER" "$@")
}

# Value of one key of a Secret, decoded.
secret_value() {
  "${KUBECTL[@]}" -n "$1" get secret "$2" -o "jsonpath={.data.$3}" | base64 -d
}

# wait_for_applications WHAT TIMEOUT NAME...: every named Application Synced and Healthy.
wait_for_applications() {
  local what="$1" timeout="$2" deadline lagging name sync health
  shift 2
  deadline=$((SECONDS + timeout))
  log "waiting up to ${timeout}s for the $what Applications: $*"
  while :; do
    lagging=()
    for name in "$@"; do
      sync="$("${KUBECTL[@]}" -n argocd get application "$name" -o 'jsonpath={.status.sync.status}' 2>/dev/null || true)"
      health="$("${KUBECTL[@]}" -n argocd get application "$name" -o 'jsonpath={.status.health.status}' 2>/dev/null || true)"
      [[ "$sync/$health" == "Synced/Healthy" ]] || lagging+=("$name ${sync:-?}/${health:-?}")
    done
    [[ ${#lagging[@]} -eq 0 ]] && return 0
    if ((SECONDS >= deadline)); then
      "${KUBECTL[@]}" -n argocd get applications -o wide >&2 || true
      die "the $what Applications are not Synced/Healthy after ${timeout}s: ${lagging[*]}"
    fi
    sleep 10
  done
}

PORT_FORWARD_PID=""
start_port_forward() {
  "${KUBECTL[@]}" -n mlflow port-forward svc/mlflow "$MLFLOW_LOCAL_PORT:5000" >/dev/null 2>&1 &
  PORT_FORWARD_PID=$!
  export MLFLOW_TRACKING_URI="http://127.0.0.1:$MLFLOW_LOCAL_PORT"
  local deadline=$((SECONDS + 120))
  until curl -fsS "$MLFLOW_TRACKING_URI/health" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "MLflow not reachable through the port-forward"
    sleep 2
  done
}

stop_port_forward() {
  [[ -n "$PORT_FORWARD_PID" ]] && kill "$PORT_FORWARD_PID" 2>/dev/null
  PORT_FORWARD_PID=""
  return 0
}

# MLflow runs with basic auth and grants nothing by default: create the trainer user, one
# user per tenant and the rollout judge's, each with the password its Secret in the cluster
# holds (Kind: created by the bootstrap; EKS: by External Secrets from AWS Secrets Manager).
# Training then grants each tenant READ on what it trains, and the judge MANAGE;
# grant_model_reads gives each tenant READ on every model it declares.
provision_registry_users() {
  local access=(env PYTHONPATH="$REPO_ROOT" "$PY" -m training.registry_access) tenant
  (cd "$REPO_ROOT" && MLFLOW_TRACKING_USERNAME=admin \
    MLFLOW_TRACKING_PASSWORD="$(secret_value mlflow mlflow-auth admin-password)" \
    REGISTRY_USER_PASSWORD="$(secret_value mlflow mlflow-trainer-credentials password)" \
    "${access[@]}" ensure-user --username trainer)
  for tenant in $(inventory --tenants); do
    (cd "$REPO_ROOT" && MLFLOW_TRACKING_USERNAME=admin \
      MLFLOW_TRACKING_PASSWORD="$(secret_value mlflow mlflow-auth admin-password)" \
      REGISTRY_USER_PASSWORD="$(secret_value "$tenant" mlflow-credentials password)" \
      "${access[@]}" ensure-user --username "$tenant")
  done
  (cd "$REPO_ROOT" && MLFLOW_TRACKING_USERNAME=admin \
    MLFLOW_TRACKING_PASSWORD="$(secret_value mlflow mlflow-auth admin-password)" \
    REGISTRY_USER_PASSWORD="$(secret_value rollout-judge mlflow-credentials password)" \
    "${access[@]}" ensure-user --username rollout-judge)
}

# The first version of every model a tenant declares (models.yaml) that training's catalog
# trains (training/tenants.yaml), promoted to the alias the declaration follows, where that
# alias is not set yet (training grants the tenant READ on it). Never touches an alias that is
# set: later versions go through `python -m training promote` and its gate. A declared model
# outside the catalog is reported and skipped: its team registers its versions itself.
seed_models() {
  (cd "$REPO_ROOT" && MLFLOW_TRACKING_USERNAME=trainer \
    MLFLOW_TRACKING_PASSWORD="$(secret_value mlflow mlflow-trainer-credentials password)" \
    PYTHONPATH="$REPO_ROOT/service:$REPO_ROOT" "$PY" -m training seed --cluster "$CLUSTER")
}

# grant_model_reads TENANT...: READ for each named tenant's registry user on every model its
# models.yaml declares on this cluster (inventory --models:
# `<tenant> <model> <@alias or /version> <Service>`). Training grants it on what `seed` and
# `train` register; a model a team registered with its own code gets it here. Without it the
# tenant's service is refused (403) and its /ready never answers 200. Needs the MLflow
# port-forward. Safe to run again: a grant that exists is kept.
grant_model_reads() {
  local access=(env PYTHONPATH="$REPO_ROOT" "$PY" -m training.registry_access) models tenant model
  local only=" $* "
  models="$(inventory --models)" || die "python -m gitops inventory --models failed"
  while read -r tenant model _; do
    [[ -n "$tenant" && "$only" == *" $tenant "* ]] || continue
    (cd "$REPO_ROOT" && MLFLOW_TRACKING_USERNAME=admin \
      MLFLOW_TRACKING_PASSWORD="$(secret_value mlflow mlflow-auth admin-password)" \
      "${access[@]}" grant-read --username "$tenant" --model "$model")
  done <<<"$models"
}

# platform_then_first_models TIMEOUT: wait until the platform Applications are Synced and
# Healthy, then create the MLflow users, seed each tenant's first models and grant each tenant
# READ on every model it declares. Sets TENANT_APPS
# (the tenant Applications, for the caller's last wait). The lists are captured first: set -e
# does not see a command substitution fail inside `mapfile <<<`.
platform_then_first_models() {
  local platform_list tenant_list platform_apps tenant_namespaces tenants
  platform_list="$(inventory --apps platform)" || die "python -m gitops inventory --apps platform failed"
  tenant_list="$(inventory --apps tenants)" || die "python -m gitops inventory --apps tenants failed"
  tenant_namespaces="$(inventory --tenants)" || die "python -m gitops inventory --tenants failed"
  mapfile -t platform_apps <<<"$platform_list"
  # shellcheck disable=SC2034 # read by the caller
  mapfile -t TENANT_APPS <<<"$tenant_list"
  wait_for_applications platform "$1" "${platform_apps[@]}"

  log "MLflow users, the first version of every declared model whose alias is not set yet, and READ grants"
  start_port_forward
  provision_registry_users
  seed_models
  mapfile -t tenants <<<"$tenant_namespaces"
  grant_model_reads "${tenants[@]}"
  stop_port_forward
}

# sync_applications NAME...: ask Argo CD to sync each Application now, pruning what the tree
# no longer has. The `operation` field is how Argo CD's own CLI and UI request a sync
# (argo-cd v3.5.1 docs/user-guide/sync-kubectl.md); prune must be asked for, because a
# manual sync prunes nothing by default (`argocd app sync --prune` defaults to false,
# cmd/argocd/commands/app.go; the UI's Prune box starts unticked), and generated ConfigMaps
# (one per change of settings.env or models.yaml) would pile up until the tenant's quota refuses new ones.
sync_applications() {
  local name
  for name in "$@"; do
    "${KUBECTL[@]}" -n argocd patch application "$name" --type merge \
      -p '{"operation": {"initiatedBy": {"username": "platform-sync"}, "sync": {"prune": true}}}' >/dev/null
    log "sync of $name requested (with prune)"
  done
}
