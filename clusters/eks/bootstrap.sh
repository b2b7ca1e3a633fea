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
ARGOCD_VERSION="${ARGOCD_VERSION:-v3.2.0}"

log() { printf '==> %s\n' "$*" >&2; }

command -v kubectl >/dev/null || { echo "error: kubectl is required but not on PATH" >&2; exit 2; }
log "cluster: $(kubectl config current-context)"

log "installing Argo CD $ARGOCD_VERSION"
kubectl create namespace argocd --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n argocd --server-side --force-conflicts \
  -f "https://raw.githubusercontent.com/argoproj/argo-cd/${ARGOCD_VERSION}/manifests/install.yaml" >/dev/null
# Sync waves only order Applications if Argo CD reports a child Application's health.
kubectl -n argocd patch configmap argocd-cm --type merge --patch-file /dev/stdin <<'PATCH' >/dev/null
data:
  resource.customizations.health.argoproj.io_Application: |
    hs = {status = "Progressing", message = ""}
    if obj.status ~= nil and obj.status.health ~= nil then
      hs.status = obj.status.health.status
      hs.message = obj.status.health.message or ""
    end
    return hs
PATCH
kubectl -n argocd rollout restart statefulset/argocd-application-controller >/dev/null
for workload in deployment/argocd-server deployment/argocd-repo-server \
  deployment/argocd-applicationset-controller statefulset/argocd-application-controller; do
  kubectl -n argocd rollout status "$workload" --timeout=300s
done

log "applying the root Application"
kubectl apply -k "$REPO_ROOT/clusters/eks"

cat >&2 <<'EOT'

Platform Applications sync by themselves; tenant Applications wait for a person:
  argocd app sync tenant-a        (or the Sync button in the UI)
Open the UI:
  kubectl -n argocd port-forward svc/argocd-server 8080:443
  kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d; echo
EOT
