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

# registry_password NAMESPACE SECRET [KEY]: the password (key `password`, or KEY) a registry
# user's Secret holds; stops the bootstrap naming the Secret when it is missing or empty (a
# user with an empty password would be refused by MLflow much later, far from the cause).
registry_password() {
  local password
  password="$(secret_value "$1" "$2" "${3:-password}")" && [[ -n "$password" ]] ||
    die "Secret $1/$2 (key ${3:-password}) is missing or empty: Kind: clusters/kind/bootstrap.sh creates it; EKS: its ExternalSecret (docs/eks.md lists the Secrets Manager entries)"
  printf '%s' "$password"
}

# The MLflow admin's password (Secret mlflow/mlflow-auth), read once per run: every user and
# grant below is made as the admin.
MLFLOW_ADMIN_PASSWORD=""
read_admin_password() {
  if [[ -z "$MLFLOW_ADMIN_PASSWORD" ]]; then
    MLFLOW_ADMIN_PASSWORD="$(registry_password mlflow mlflow-auth admin-password)" || exit 1
  fi
}

# ensure_registry_user USER NAMESPACE SECRET: the MLflow user USER, with the password of the
# Secret NAMESPACE/SECRET (created, or its password reset to the Secret's), as the admin.
ensure_registry_user() {
  local password
  read_admin_password
  password="$(registry_password "$2" "$3")" || exit 1
  (cd "$REPO_ROOT" && MLFLOW_TRACKING_USERNAME=admin \
    MLFLOW_TRACKING_PASSWORD="$MLFLOW_ADMIN_PASSWORD" REGISTRY_USER_PASSWORD="$password" \
    env PYTHONPATH="$REPO_ROOT" "$PY" -m training.registry_access ensure-user --username "$1")
}

# MLflow runs with basic auth and grants nothing by default: the platform's users, trainer
# (training and promotion) and rollout-judge, each with the password its Secret in the
# cluster holds (Kind: created by the bootstrap; EKS: by External Secrets from AWS Secrets
# Manager). The tenants' users come with provision_tenants.
provision_registry_users() {
  ensure_registry_user trainer mlflow mlflow-trainer-credentials
  ensure_registry_user rollout-judge rollout-judge mlflow-credentials
}

# provision_tenants TENANT...: for each tenant its two registry users, `<tenant>` (the
# service, Secret <tenant>/mlflow-credentials) and `<tenant>-trainer` (its team's writer,
# Secret <tenant>/mlflow-trainer-credentials), then `registry_access provision-tenant` with
# the models.yaml of this cluster: READ for the service and EDIT for the writer on every
# declared model and the tenant's experiment, MANAGE for trainer and rollout-judge; it
# creates the declared model names (so no other tenant can take one) and refuses a name
# another tenant's user holds. Without it the service is refused (403) and its /ready never
# answers 200. Needs the MLflow port-forward. Safe to run again: a grant that exists is kept.
provision_tenants() {
  local tenant
  for tenant in "$@"; do
    ensure_registry_user "$tenant" "$tenant" mlflow-credentials
    ensure_registry_user "$tenant-trainer" "$tenant" mlflow-trainer-credentials
    grant_declared_models "$tenant"
  done
}

# grant_declared_models TENANT: `provision-tenant` with the tenant's models.yaml of this
# cluster, as the admin (training/registry_access.py has the table of who gets what).
grant_declared_models() {
  read_admin_password
  (cd "$REPO_ROOT" && MLFLOW_TRACKING_USERNAME=admin \
    MLFLOW_TRACKING_PASSWORD="$MLFLOW_ADMIN_PASSWORD" \
    PYTHONPATH="$REPO_ROOT/service:$REPO_ROOT" "$PY" -m training.registry_access \
    provision-tenant --models "overlays/$CLUSTER/tenants/$1/models.yaml")
}

# The first version of every model a tenant declares (models.yaml) that training's catalog
# trains (training/tenants.yaml), promoted to the alias the declaration follows, where that
# alias is not set yet. Never touches an alias that is set: later versions go through
# `python -m training promote` and its gate. A declared model outside the catalog is reported
# and skipped here: seed_team_models registers it when a bundled example trains it.
seed_models() {
  local password
  password="$(registry_password mlflow mlflow-trainer-credentials)" || exit 1
  (cd "$REPO_ROOT" && MLFLOW_TRACKING_USERNAME=trainer MLFLOW_TRACKING_PASSWORD="$password" \
    PYTHONPATH="$REPO_ROOT/service:$REPO_ROOT" "$PY" -m training seed --cluster "$CLUSTER")
}

# seed_team_models TENANT...: the first version of each model a tenant declares that a team
# example of the repository trains (training/examples/examples.yaml), the way its team
# registers it: the example's own script, ending in the platform's `register` step, logged in
# as the tenant's writer user `<tenant>-trainer`; then the declared alias where it is not set
# yet. A version of the same code and data is reused (`seed-examples`, docs/models.md).
seed_team_models() {
  local tenant password
  for tenant in "$@"; do
    password="$(registry_password "$tenant" mlflow-trainer-credentials)" || exit 1
    (cd "$REPO_ROOT" && MLFLOW_TRACKING_USERNAME="$tenant-trainer" \
      MLFLOW_TRACKING_PASSWORD="$password" PYTHONPATH="$REPO_ROOT/service:$REPO_ROOT" \
      "$PY" -m training seed-examples --cluster "$CLUSTER" --tenant "$tenant")
  done
}

# platform_then_first_models TIMEOUT: wait until the platform Applications are Synced and
# Healthy, then create the MLflow users, give each tenant access to the models it declares,
# and register each declared model's first version (the catalog's, then the team examples').
# Sets TENANT_APPS
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

  log "MLflow users and grants, then the first version of every declared model whose alias is not set yet"
  mapfile -t tenants <<<"$tenant_namespaces"
  start_port_forward
  provision_registry_users
  provision_tenants "${tenants[@]}"
  seed_models
  seed_team_models "${tenants[@]}"
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
