#!/usr/bin/env bash
# Hand an EKS cluster created by clusters/eks/create-cluster.sh to Argo CD.
#
#   clusters/eks/create-cluster.sh
#   clusters/eks/bootstrap.sh
#
# Before the first sync the AWS side must exist (docs/eks.md: the S3 bucket, RDS
# PostgreSQL, the Secrets Manager entries under ml-platform/). Needs kubectl pointed at
# the cluster (eksctl sets the context); the script uses that context and never switches it.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=clusters/install-argocd.sh
source "$REPO_ROOT/clusters/install-argocd.sh"
SETTINGS="$REPO_ROOT/clusters/eks/settings/settings.env"

log() { printf '==> %s\n' "$*" >&2; }

command -v kubectl >/dev/null || { echo "error: kubectl is required but not on PATH" >&2; exit 2; }
if grep -qE '^AWS_ACCOUNT_ID=111122223333$|^(ARTIFACT_BUCKET|DOMAIN)=.*example' "$SETTINGS"; then
  echo "error: $SETTINGS still holds example values; set your own and commit them first" >&2
  exit 2
fi
context="$(kubectl config current-context)"
KUBECTL=(kubectl --context "$context")
log "cluster: $context"

log "installing Argo CD $ARGOCD_VERSION"
install_argocd "${KUBECTL[@]}"

log "applying the root Application"
"${KUBECTL[@]}" apply -k "$REPO_ROOT/clusters/eks"

cat >&2 <<EOT

Platform Applications sync by themselves (watch: kubectl -n argocd get applications).
Tenant workloads wait for a person. Once MLflow is healthy, create its users and each
tenant's first model through a port-forward (docs/eks.md, "First models"):
  kubectl --context $context -n mlflow port-forward svc/mlflow 5000:5000
  python -m training.registry_access ensure-user --username trainer   # and one per tenant
  python -m training seed --cluster eks                               # as trainer
then sync the tenants:
  argocd app sync tenant-a        (or the Sync button in the UI)
Open the UI:
  kubectl --context $context -n argocd port-forward svc/argocd-server 8080:443
  kubectl --context $context -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d; echo
EOT
