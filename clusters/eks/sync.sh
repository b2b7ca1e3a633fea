#!/usr/bin/env bash
# Sync EKS Applications after review, pruning what the tree no longer has, and wait for them:
#
#   clusters/eks/sync.sh tenant-a [tenant-b ...]
#
# Tenant workloads never sync by themselves on EKS (apps/eks/kustomization.yaml): a person
# syncs each reviewed change. A manual sync prunes nothing unless asked (argo-cd v3.5.1:
# `argocd app sync --prune` defaults to false, cmd/argocd/commands/app.go; the UI's Prune box
# starts unticked), and every change of a tenant's settings.env, models.yaml or rollout
# policies makes a new hash-suffixed ConfigMap, so syncs without prune pile ConfigMaps up
# until the tenant quota's `configmaps` count refuses a new one. This script always prunes.
# Before a tenant's sync it provisions the tenant's registry access for what its models.yaml
# declares (provision_tenants in clusters/platform-steps.sh: a model declared since the
# bootstrap has no grant yet, and the service would be refused), as the MLflow admin through
# a port-forward. Needs kubectl on the cluster's context and the
# repository's Python (.venv).
# Environment: SYNC_TIMEOUT (900 s), MLFLOW_LOCAL_PORT (15000).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=clusters/platform-steps.sh
source "$REPO_ROOT/clusters/platform-steps.sh"
CLUSTER=eks
SYNC_TIMEOUT="${SYNC_TIMEOUT:-900}"
PY="${PY:-$REPO_ROOT/.venv/bin/python}"
MLFLOW_LOCAL_PORT="${MLFLOW_LOCAL_PORT:-15000}"

log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'sync: %s\n' "$*" >&2
  exit 1
}

(($# > 0)) || { echo "usage: clusters/eks/sync.sh APPLICATION..." >&2; exit 2; }
command -v kubectl >/dev/null || { echo "error: kubectl is required but not on PATH" >&2; exit 2; }
KUBECTL=(kubectl --context "$(kubectl config current-context)")
trap stop_port_forward EXIT
known="$(inventory --tenants)" || die "python -m gitops inventory --tenants failed"
tenants=()
for name in "$@"; do
  if grep -qx -- "$name" <<<"$known"; then
    tenants+=("$name")
  fi
done
if ((${#tenants[@]} > 0)); then
  log "registry access of ${tenants[*]} for every model they declare"
  start_port_forward
  provision_tenants "${tenants[@]}"
  stop_port_forward
fi
sync_applications "$@"
wait_for_applications synced "$SYNC_TIMEOUT" "$@"
