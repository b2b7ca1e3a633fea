#!/usr/bin/env bash
# Create the Kind cluster, hand it to Argo CD and seed the first models, in an order in which
# every wait can end:
#   1. the Kind cluster CLUSTER_NAME; every kubectl call names its context, kind-CLUSTER_NAME
#   2. the images CI builds that the Kind tree runs, under the tag the overlays pin (pulled
#      when published, otherwise built from this checkout), saved for the nodes' platform into
#      one archive and loaded into the nodes from it
#   3. Argo CD (pinned), local credentials (random, never committed), the root Application
#   4. wait until the platform Applications are Synced and Healthy (addons, MinIO, MLflow,
#      monitoring, tenant kits)
#   5. MLflow users and grants (each tenant's reader and writer users), then the first version
#      of each declared model (the catalog's trained, a team example's registered by its own
#      script) promoted to the alias its overlay serves, where that alias is not set yet
#   6. wait until the tenant Applications are Healthy: a tenant's pods are ready only once a
#      model is loaded, so this wait comes after 5
#
#   clusters/kind/bootstrap.sh
#   REPO_URL=https://github.com/you/fork.git REVISION=my-branch clusters/kind/bootstrap.sh
#
# Needs docker 28.0 or newer (client and engine), kind, kubectl, curl, make and python3 (the
# repository's .venv is created when missing). Safe to run again: every step checks what
# exists first.
# Environment: CLUSTER_NAME (ml-platform), REPO_URL, REVISION (main), PLATFORM_TIMEOUT (900 s),
# TENANT_TIMEOUT (600 s), IMAGE_SOURCE (build: always build the images from this checkout),
# PYTHON_IMAGE and PIP_CA (base image and CA bundle for local builds).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=clusters/install-argocd.sh
source "$REPO_ROOT/clusters/install-argocd.sh"
# shellcheck source=clusters/platform-steps.sh
source "$REPO_ROOT/clusters/platform-steps.sh"
CLUSTER=kind
CLUSTER_NAME="${CLUSTER_NAME:-ml-platform}"
DEFAULT_REPO_URL="https://github.com/example-org/ml-inference-platform.git"
REPO_URL="${REPO_URL:-$DEFAULT_REPO_URL}"
REVISION="${REVISION:-main}"
PLATFORM_TIMEOUT="${PLATFORM_TIMEOUT:-900}"
TENANT_TIMEOUT="${TENANT_TIMEOUT:-600}"
PY="${PY:-$REPO_ROOT/.venv/bin/python}"
KUBECTL=(kubectl --context "kind-${CLUSTER_NAME}")
MLFLOW_LOCAL_PORT="${MLFLOW_LOCAL_PORT:-15000}"

log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'bootstrap: %s\n' "$*" >&2
  exit 1
}

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
# Validation (the `ordering` check) reads the ensure_secret calls of this script: every Secret
# a pod of the Kind tree needs and no Application creates must be created by one of them.
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

BOOTSTRAP_OVERLAY=""
IMAGE_ARCHIVE_DIR=""
cleanup() {
  stop_port_forward
  [[ -n "$BOOTSTRAP_OVERLAY" ]] && rm -rf "$BOOTSTRAP_OVERLAY"
  [[ -n "$IMAGE_ARCHIVE_DIR" ]] && rm -rf "$IMAGE_ARCHIVE_DIR"
  return 0
}
trap cleanup EXIT

# Docker API versions are MAJOR.MINOR: api_at_least VERSION MINIMUM.
api_at_least() {
  local major minor min_major min_minor
  IFS=. read -r major minor <<<"$1"
  IFS=. read -r min_major min_minor <<<"$2"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  ((major > min_major || (major == min_major && minor >= min_minor)))
}

# The images go to the nodes through `docker image save --platform` (load_images), new in
# Docker 28.0: the CLI has the flag from v28.0.0 (docker/cli, cli/command/image/save.go) and
# refuses it against an engine below API 1.48, i.e. Engine 28.0 (cmd/docker/docker.go). Both
# image stores honour it (moby v28.0.0: image/tarexport/save.go for the classic one,
# daemon/containerd/image_exporter.go). Checked first, before minutes of builds. Sets
# NODE_PLATFORM to the engine's os/arch: the Kind nodes are containers of that engine.
NODE_PLATFORM=""
check_docker() {
  local answer client_api server_api
  answer="$(docker version --format '{{.Client.DefaultAPIVersion}} {{.Server.APIVersion}} {{.Server.Os}}/{{.Server.Arch}}')" ||
    die "docker version failed: is the Docker daemon running and reachable?"
  read -r client_api server_api NODE_PLATFORM <<<"$answer"
  if ! api_at_least "$client_api" 1.48 || ! api_at_least "$server_api" 1.48; then
    die "Docker 28.0 or newer is needed, client and engine (API 1.48, for docker image save --platform); found client API ${client_api:-?}, engine API ${server_api:-?}"
  fi
  [[ "$NODE_PLATFORM" =~ ^[a-z0-9]+/[a-z0-9]+$ ]] ||
    die "docker version names no engine platform (os/arch): ${answer}"
}

# build_image REF CONTEXT [NAME=value ...]: the build arguments of the image's matrix entry.
build_image() {
  local ref="$1" context="$2" arg args=()
  for arg in "${@:3}"; do args+=(--build-arg "$arg"); done
  [[ -n "${PYTHON_IMAGE:-}" ]] && args+=(--build-arg "PYTHON_IMAGE=$PYTHON_IMAGE")
  [[ -n "${PIP_CA:-}" ]] && args+=(--secret "id=pip-ca,src=$PIP_CA")
  DOCKER_BUILDKIT=1 docker build "${args[@]}" --tag "$ref" "$REPO_ROOT/$context"
}

# Every image CI builds that the Kind tree runs, under the exact tag the overlays pin.
# IMAGE_SOURCE=build builds each from this checkout even when it is published (e2e does, to
# test the commit under review); the default uses a local or published image first.
# They reach the nodes through one archive of the nodes' platform only, not `kind load
# docker-image`: that one saves the whole image and imports it with `ctr images import
# --all-platforms` (kind v0.32.0, pkg/cluster/nodeutils/util.go), which fails with Docker's
# containerd image store for a pulled multi-platform image whose other platforms were never
# downloaded ("content digest ... not found", kubernetes-sigs/kind#3795). One archive for all
# images: each node imports once.
load_images() {
  local ref context build_args images archive refs=() arguments=()
  # Captured first, not read from `< <(inventory ...)`: set -e does not see a process
  # substitution fail, and a failing inventory would load nothing and carry on.
  images="$(inventory --images-built)" || die "python -m gitops inventory --images-built failed"
  while read -r ref context build_args; do
    [[ -n "$ref" ]] || continue
    read -ra arguments <<<"$build_args"
    if [[ "${IMAGE_SOURCE:-}" == build ]]; then
      log "image $ref: building it from $context"
      build_image "$ref" "$context" "${arguments[@]}"
    elif docker image inspect "$ref" >/dev/null 2>&1; then
      log "image $ref is here"
    elif docker pull "$ref" >/dev/null 2>&1; then
      log "image $ref pulled"
    else
      log "image $ref is not published (or not readable): building it from $context"
      build_image "$ref" "$context" "${arguments[@]}"
    fi
    refs+=("$ref")
  done <<<"$images"
  [[ ${#refs[@]} -gt 0 ]] || return 0
  IMAGE_ARCHIVE_DIR="$(mktemp -d)"
  archive="$IMAGE_ARCHIVE_DIR/images.tar"
  log "saving ${#refs[@]} image(s) for $NODE_PLATFORM, the nodes' platform"
  docker image save --platform "$NODE_PLATFORM" -o "$archive" "${refs[@]}"
  kind load image-archive "$archive" --name "$CLUSTER_NAME"
  rm -rf "$IMAGE_ARCHIVE_DIR"
  IMAGE_ARCHIVE_DIR=""
}

if [[ "$REPO_URL" == *github.com/example-org/* ]]; then
  echo "error: Argo CD would sync from the example repository $REPO_URL, which does not exist;" \
    "run make repository URL=https://github.com/<you>/<repo>.git in your fork (or set REPO_URL)" >&2
  exit 2
fi
need docker
need kind
need kubectl
need curl
need make
check_docker
if [[ ! -x "$PY" ]]; then
  log "creating the repository's Python environment (.venv)"
  make -C "$REPO_ROOT" venv >&2
fi
# The tenant loops below read `$(inventory --tenants)`, whose failure `for` would not see.
inventory --tenants >/dev/null || die "python -m gitops inventory --tenants failed"

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  log "kind cluster $CLUSTER_NAME exists"
else
  log "creating kind cluster $CLUSTER_NAME"
  kind create cluster --name "$CLUSTER_NAME" --config "$REPO_ROOT/clusters/kind/kind-config.yaml" --wait 120s
fi

log "loading the images the Kind tree runs into the nodes"
load_images

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
# Per tenant: its service's registry user (read-only) and its team's writer user, which the
# team trains and registers as (docs/models.md, "Who may register").
for tenant in $(inventory --tenants); do
  ensure_namespace "$tenant"
  ensure_secret "$tenant" mlflow-credentials \
    --from-literal=username="$tenant" \
    --from-literal=password="$(random_secret)"
  ensure_secret "$tenant" mlflow-trainer-credentials \
    --from-literal=username="$tenant-trainer" \
    --from-literal=password="$(random_secret)"
done
# The rollout judge's registry user (training grants it MANAGE on every model it trains).
ensure_namespace rollout-judge
ensure_secret rollout-judge mlflow-credentials \
  --from-literal=username=rollout-judge \
  --from-literal=password="$(random_secret)"

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
            - target: {kind: Application, name: "minio|mlflow|monitoring|rollout-judge"}
              patch: '[{"op": "replace", "path": "/spec/source/repoURL", "value": "$REPO_URL"}, {"op": "replace", "path": "/spec/source/targetRevision", "value": "$REVISION"}]'
            - target: {kind: ApplicationSet}
              patch: '[{"op": "replace", "path": "/spec/generators/0/git/repoURL", "value": "$REPO_URL"}, {"op": "replace", "path": "/spec/generators/0/git/revision", "value": "$REVISION"}, {"op": "replace", "path": "/spec/template/spec/source/repoURL", "value": "$REPO_URL"}, {"op": "replace", "path": "/spec/template/spec/source/targetRevision", "value": "$REVISION"}]'
KUSTOMIZATION
  "${KUBECTL[@]}" apply -k "$overlay"
fi

platform_then_first_models "$PLATFORM_TIMEOUT"

wait_for_applications tenant "$TENANT_TIMEOUT" "${TENANT_APPS[@]}"

cat >&2 <<EOT

The platform runs on kind-${CLUSTER_NAME}, synced by Argo CD from $REPO_URL @ $REVISION.
Train and promote through the in-cluster MLflow (user trainer, password in
kubectl -n mlflow get secret mlflow-trainer-credentials); a tenant's team as its writer
user <tenant>-trainer (kubectl -n <tenant> get secret mlflow-trainer-credentials):
  kubectl --context kind-${CLUSTER_NAME} -n mlflow port-forward svc/mlflow 5000:5000
Open the Argo CD UI:
  kubectl --context kind-${CLUSTER_NAME} -n argocd port-forward svc/argocd-server 8080:443
  https://localhost:8080  user: admin
  password: kubectl --context kind-${CLUSTER_NAME} -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d; echo
EOT
