#!/usr/bin/env bash
# Create the Kind cluster and hand it to Argo CD.
#
#   clusters/kind/bootstrap.sh
#   REPO_URL=https://github.com/you/fork.git REVISION=my-branch clusters/kind/bootstrap.sh
#
# Needs docker, kind, kubectl and python3. Safe to run again: every step checks what exists first.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=clusters/install-argocd.sh
source "$REPO_ROOT/clusters/install-argocd.sh"
CLUSTER_NAME="${CLUSTER_NAME:-ml-platform}"
DEFAULT_REPO_URL="https://github.com/example-org/ml-inference-platform.git"
REPO_URL="${REPO_URL:-$DEFAULT_REPO_URL}"
REVISION="${REVISION:-main}"
KUBECTL=(kubectl --context "kind-${CLUSTER_NAME}")

log() { printf '==> %s\n' "$*" >&2; }

need() {
  command -v "$1" >/dev/null || { echo "error: $1 is required but not on PATH" >&2; exit 2; }
}

random_secret() {
  # 32 hex characters: no characters that would need escaping in a URL (mc's MC_HOST_*).
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n'
}

ensure_namespace() {
  "${KUBECTL[@]}" create namespace "$1" --dry-run=client -o yaml | "${KUBECTL[@]}" apply -f - >/dev/null
}

# Creates the Secret only when it is missing, so a re-run never rotates live credentials.
ensure_secret() {
  local namespace="$1" name="$2"
  shift 2
  if "${KUBECTL[@]}" -n "$namespace" get secret "$name" >/dev/null 2>&1; then
    log "secret $namespace/$name exists, kept"
    return
  fi
  "${KUBECTL[@]}" -n "$namespace" create secret generic "$name" "$@" >/dev/null
  log "secret $namespace/$name created"
}

# Value of one key of a Secret, decoded.
secret_value() {
  "${KUBECTL[@]}" -n "$1" get secret "$2" -o "jsonpath={.data.$3}" | base64 -d
}

PORT_FORWARD_PID=""
BOOTSTRAP_OVERLAY=""
cleanup() {
  [[ -n "$PORT_FORWARD_PID" ]] && kill "$PORT_FORWARD_PID" 2>/dev/null
  [[ -n "$BOOTSTRAP_OVERLAY" ]] && rm -rf "$BOOTSTRAP_OVERLAY"
  return 0
}
trap cleanup EXIT

# MLflow runs with basic auth and grants nothing by default: create the trainer user and one
# user per tenant (its Secret's password), each allowed to READ only its own registered model.
provision_registry_users() {
  log "waiting for Argo CD to deploy MLflow"
  local deadline=$((SECONDS + 900))
  until "${KUBECTL[@]}" -n mlflow get deployment/mlflow >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "error: deployment mlflow/mlflow not created by Argo CD" >&2; exit 1; }
    sleep 10
  done
  "${KUBECTL[@]}" -n mlflow rollout status deployment/mlflow --timeout=600s
  local port=15000
  "${KUBECTL[@]}" -n mlflow port-forward svc/mlflow "$port:5000" >/dev/null 2>&1 &
  PORT_FORWARD_PID=$!
  export MLFLOW_TRACKING_URI="http://127.0.0.1:$port"
  until curl -fsS "$MLFLOW_TRACKING_URI/health" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "error: MLflow not reachable through the port-forward" >&2; exit 1; }
    sleep 2
  done
  export MLFLOW_TRACKING_USERNAME=admin
  MLFLOW_TRACKING_PASSWORD="$(secret_value mlflow mlflow-auth admin-password)"
  export MLFLOW_TRACKING_PASSWORD
  local access=(python3 -m training.registry_access)
  (cd "$REPO_ROOT" && REGISTRY_USER_PASSWORD="$(secret_value mlflow mlflow-trainer-credentials password)" \
    "${access[@]}" ensure-user --username trainer)
  for tenant_dir in "$REPO_ROOT"/overlays/kind/tenants/*/; do
    [[ -f "$tenant_dir/kustomization.yaml" ]] || continue
    local tenant model
    tenant="$(basename "$tenant_dir")"
    model="$(sed -n 's|^MODEL_URI=models:/\([^/@]*\).*|\1|p' "$tenant_dir/model.env")"
    (cd "$REPO_ROOT" && REGISTRY_USER_PASSWORD="$(secret_value "$tenant" mlflow-credentials password)" \
      "${access[@]}" ensure-user --username "$tenant")
    (cd "$REPO_ROOT" && "${access[@]}" grant-read --username "$tenant" --model "$model")
  done
  kill "$PORT_FORWARD_PID" 2>/dev/null || true
  PORT_FORWARD_PID=""
}

need docker
need kind
need kubectl
need python3
need curl

if kind get clusters | grep -qx "$CLUSTER_NAME"; then
  log "kind cluster $CLUSTER_NAME exists"
else
  log "creating kind cluster $CLUSTER_NAME"
  kind create cluster --name "$CLUSTER_NAME" --config "$REPO_ROOT/clusters/kind/kind-config.yaml"
fi

log "building the MLflow server image and loading it into the nodes"
mlflow_image="$(kubectl kustomize "$REPO_ROOT/overlays/kind/mlflow" | sed -n 's/^ *image: //p' | head -n 1)"
if ! docker image inspect "$mlflow_image" >/dev/null 2>&1; then
  docker pull "$mlflow_image" >/dev/null 2>&1 \
    || docker build -t "$mlflow_image" "$REPO_ROOT/base/mlflow/image"
fi
kind load docker-image "$mlflow_image" --name "$CLUSTER_NAME"

log "installing Argo CD $ARGOCD_VERSION"
install_argocd "${KUBECTL[@]}"

log "creating local credentials (random, never committed)"
# Namespaces first, so the Secrets exist before the pods that mount them; Argo CD adopts
# the namespaces and adds their labels when it syncs.
minio_access_key="platform-$(random_secret | cut -c1-8)"
minio_secret_key="$(random_secret)"
for namespace in minio mlflow; do
  ensure_namespace "$namespace"
  ensure_secret "$namespace" minio-credentials \
    --from-literal=access-key="$minio_access_key" \
    --from-literal=secret-key="$minio_secret_key"
done
# The MLflow admin (creates users, nothing else) and the user training logs in as.
ensure_secret mlflow mlflow-auth \
  --from-literal=admin-password="$(random_secret)" \
  --from-literal=flask-secret-key="$(random_secret)"
ensure_secret mlflow mlflow-trainer-credentials \
  --from-literal=username=trainer \
  --from-literal=password="$(random_secret)"
for tenant_dir in "$REPO_ROOT"/overlays/kind/tenants/*/; do
  [[ -f "$tenant_dir/kustomization.yaml" ]] || continue
  tenant="$(basename "$tenant_dir")"
  ensure_namespace "$tenant"
  ensure_secret "$tenant" mlflow-credentials \
    --from-literal=username="$tenant" \
    --from-literal=password="$(random_secret)"
done

log "applying the root Application ($REPO_URL @ $REVISION)"
if [[ "$REPO_URL" == "$DEFAULT_REPO_URL" && "$REVISION" == "main" ]]; then
  "${KUBECTL[@]}" apply -k "$REPO_ROOT/clusters/kind"
else
  # Point the root and, through Argo CD's kustomize patches, every Application and
  # ApplicationSet it renders from this repo at REPO_URL/REVISION (e.g. a PR's commit).
  # Helm-chart Applications keep their chart repository and version.
  # Inside the repo because kustomize only accepts relative paths to other kustomizations.
  overlay="$(mktemp -d "$REPO_ROOT/.bootstrap-override.XXXXXX")"
  BOOTSTRAP_OVERLAY="$overlay"
  cat >"$overlay/kustomization.yaml" <<KUSTOMIZATION
resources:
  - ../clusters/kind
patches:
  - target: {kind: AppProject, name: bootstrap}
    patch: |-
      - {op: add, path: /spec/sourceRepos/-, value: "$REPO_URL"}
  - target: {kind: Application, name: root}
    patch: |-
      - {op: replace, path: /spec/source/repoURL, value: "$REPO_URL"}
      - {op: replace, path: /spec/source/targetRevision, value: "$REVISION"}
      - op: add
        path: /spec/source/kustomize
        value:
          patches:
            - target: {kind: AppProject}
              patch: '[{"op": "add", "path": "/spec/sourceRepos/-", "value": "$REPO_URL"}]'
            - target: {kind: Application, name: "minio|mlflow|monitoring"}
              patch: '[{"op": "replace", "path": "/spec/source/repoURL", "value": "$REPO_URL"}, {"op": "replace", "path": "/spec/source/targetRevision", "value": "$REVISION"}]'
            - target: {kind: ApplicationSet}
              patch: '[{"op": "replace", "path": "/spec/generators/0/git/repoURL", "value": "$REPO_URL"}, {"op": "replace", "path": "/spec/generators/0/git/revision", "value": "$REVISION"}, {"op": "replace", "path": "/spec/template/spec/source/repoURL", "value": "$REPO_URL"}, {"op": "replace", "path": "/spec/template/spec/source/targetRevision", "value": "$REVISION"}]'
KUSTOMIZATION
  "${KUBECTL[@]}" apply -k "$overlay"
fi

provision_registry_users

cat >&2 <<EOT

MLflow users: trainer (kubectl -n mlflow get secret mlflow-trainer-credentials) and one per
tenant. After training a tenant's first version, let the tenant read its experiment too:
  MLFLOW_TRACKING_USERNAME=trainer MLFLOW_TRACKING_PASSWORD=... \\
    python3 -m training.registry_access grant-read --username tenant-a --model tenant-a-iris

Argo CD now syncs the platform from $REPO_URL @ $REVISION (watch: kubectl -n argocd get applications).
Open the UI:
  kubectl --context kind-${CLUSTER_NAME} -n argocd port-forward svc/argocd-server 8080:443
  https://localhost:8080  user: admin
  password: kubectl --context kind-${CLUSTER_NAME} -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d; echo
EOT
