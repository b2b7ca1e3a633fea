#!/usr/bin/env bash
# Hand an EKS cluster created from clusters/eks/cluster.yaml to Argo CD.
#
#   eksctl create cluster -f clusters/eks/cluster.yaml
#   clusters/eks/bootstrap.sh
#
# Before the first sync, the AWS side must exist (see README: S3 bucket, RDS PostgreSQL,
# Secrets Manager entries under ml-platform/). Needs kubectl pointed at the cluster.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=clusters/install-argocd.sh
source "$REPO_ROOT/clusters/install-argocd.sh"

log() { printf '==> %s\n' "$*" >&2; }

command -v kubectl >/dev/null || { echo "error: kubectl is required but not on PATH" >&2; exit 2; }
log "cluster: $(kubectl config current-context)"

log "installing Argo CD $ARGOCD_VERSION"
install_argocd kubectl

log "applying the root Application"
kubectl apply -k "$REPO_ROOT/clusters/eks"

cat >&2 <<'EOT'

Platform Applications sync by themselves; tenant Applications wait for a person:
  argocd app sync tenant-a        (or the Sync button in the UI)
Open the UI:
  kubectl -n argocd port-forward svc/argocd-server 8080:443
  kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d; echo
EOT
