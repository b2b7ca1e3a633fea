#!/usr/bin/env bash
# Hand an EKS cluster created by clusters/eks/create-cluster.sh to Argo CD and bring every
# Application to Synced and Healthy, in the order docs/eks.md gives ("First deploy"):
#   1. check what must exist on AWS first: the ACM certificate of settings.env
#      (CERTIFICATE_ARN) issued, and every Secrets Manager entry the tree's ExternalSecrets read
#   2. Argo CD (pinned) and the root Application; wait until the platform Applications are
#      Synced and Healthy (add-ons, storage, MLflow, monitoring, tenant kits, rollout judge)
#   3. MLflow users (trainer, the rollout judge, each tenant's service and writer users), each
#      with the password its Secret holds (External Secrets writes them from Secrets Manager),
#      each tenant's grants on its declared models, then each declared model's first version
#      where its alias is not set yet
#   4. sync the tenant Applications once (they never sync by themselves on EKS; later syncs
#      are a person's, after review: clusters/eks/sync.sh), pruning, and wait for them
#
#   clusters/eks/create-cluster.sh
#   clusters/eks/bootstrap.sh
#
# Needs kubectl pointed at the cluster (eksctl sets the context; the script uses that context
# and never switches it), aws (credentials that may read the certificate and the secrets'
# metadata), curl and python3 (the repository's .venv is created when missing). Safe to run
# again: every step checks what exists first, and a model alias that is set is never moved.
# Environment: PLATFORM_TIMEOUT (1800 s), TENANT_TIMEOUT (900 s), MLFLOW_LOCAL_PORT (15000).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=clusters/install-argocd.sh
source "$REPO_ROOT/clusters/install-argocd.sh"
# shellcheck source=clusters/platform-steps.sh
source "$REPO_ROOT/clusters/platform-steps.sh"
CLUSTER=eks
SETTINGS="$REPO_ROOT/clusters/eks/settings/settings.env"
PLATFORM_TIMEOUT="${PLATFORM_TIMEOUT:-1800}"
TENANT_TIMEOUT="${TENANT_TIMEOUT:-900}"
PY="${PY:-$REPO_ROOT/.venv/bin/python}"
MLFLOW_LOCAL_PORT="${MLFLOW_LOCAL_PORT:-15000}"

log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'bootstrap: %s\n' "$*" >&2
  exit 1
}
need() {
  command -v "$1" >/dev/null || { echo "error: $1 is required but not on PATH" >&2; exit 2; }
}
setting() { sed -n "s/^$1=//p" "$SETTINGS"; }
trap stop_port_forward EXIT

need kubectl
need aws
need curl
if grep -qE '^AWS_ACCOUNT_ID=111122223333$|^(ARTIFACT_BUCKET|DOMAIN)=.*example|^CERTIFICATE_ARN=.*111122223333' "$SETTINGS"; then
  echo "error: $SETTINGS still holds example values; set your own and commit them first" >&2
  exit 2
fi
if grep -q 'github.com/example-org/' "$REPO_ROOT/clusters/eks/root-application.yaml"; then
  echo "error: the tree still points Argo CD at the example repository; run" \
    "make repository URL=https://github.com/<you>/<repo>.git and commit first" >&2
  exit 2
fi
if [[ ! -x "$PY" ]]; then
  log "creating the repository's Python environment (.venv)"
  make -C "$REPO_ROOT" venv >&2
fi
context="$(kubectl config current-context)"
KUBECTL=(kubectl --context "$context")
log "cluster: $context"

log "checking what must exist on AWS before the first sync (docs/eks.md)"
region="$(setting AWS_REGION)"
certificate="$(setting CERTIFICATE_ARN)"
status="$(aws acm describe-certificate --region "$region" --certificate-arn "$certificate" \
  --query Certificate.Status --output text 2>/dev/null || true)"
[[ "$status" == ISSUED ]] || die "ACM certificate $certificate is ${status:-not found}, not ISSUED:" \
  "the load balancer controller builds no ALB without it, and the first sync waits at MLflow for ever"
# Captured first: set -e does not see a command substitution in `for` fail.
cloud_secrets="$(inventory --cloud-secrets)" || die "python -m gitops inventory --cloud-secrets failed"
missing=()
for key in $cloud_secrets; do
  aws secretsmanager describe-secret --region "$region" --secret-id "$key" >/dev/null 2>&1 || missing+=("$key")
done
((${#missing[@]} == 0)) || die "missing in AWS Secrets Manager (docs/eks.md lists what each holds): ${missing[*]}"

log "installing Argo CD $ARGOCD_VERSION"
install_argocd "${KUBECTL[@]}"

log "applying the root Application"
"${KUBECTL[@]}" apply -k "$REPO_ROOT/clusters/eks"

platform_then_first_models "$PLATFORM_TIMEOUT"

log "first sync of the tenants (later ones are yours, after review: clusters/eks/sync.sh)"
sync_applications "${TENANT_APPS[@]}"
wait_for_applications tenant "$TENANT_TIMEOUT" "${TENANT_APPS[@]}"

cat >&2 <<EOT

Every Application is Synced and Healthy on $context.
Tenant workloads never sync by themselves on EKS: after a merge, review the change in the
Argo CD UI and sync it, pruning what the tree dropped:
  clusters/eks/sync.sh tenant-a        (or: argocd app sync tenant-a --prune, or Sync with Prune ticked)
Open the UI:
  kubectl --context $context -n argocd port-forward svc/argocd-server 8080:443
  kubectl --context $context -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d; echo
EOT
