# shellcheck shell=bash
# Sourced by clusters/<cluster>/bootstrap.sh: installs the pinned Argo CD and its settings.
# Usage: install_argocd kubectl [--context NAME]    (the caller sets REPO_ROOT and CLUSTER)

ARGOCD_VERSION="${ARGOCD_VERSION:-v3.5.1}"

install_argocd() {
  local -a kube=("$@")
  "${kube[@]}" create namespace argocd --dry-run=client -o yaml | "${kube[@]}" apply -f - >/dev/null
  "${kube[@]}" apply -n argocd --server-side --force-conflicts \
    -f "https://raw.githubusercontent.com/argoproj/argo-cd/${ARGOCD_VERSION}/manifests/install.yaml" >/dev/null
  # Argo CD's settings, as git has them (base/argocd with this cluster's values): the
  # Application health check, without which sync waves do not wait for child Applications
  # (argo-cd v3.5.1 controller/health.go), so it must be there before the root's first sync;
  # the UI's deep links; notifications. From then on the argocd-settings Application keeps
  # them in sync.
  "${kube[@]}" apply -k "$REPO_ROOT/overlays/$CLUSTER/argocd/config" >/dev/null
  "${kube[@]}" -n argocd rollout restart statefulset/argocd-application-controller >/dev/null
  local workload
  for workload in deployment/argocd-server deployment/argocd-repo-server \
    deployment/argocd-applicationset-controller statefulset/argocd-application-controller; do
    "${kube[@]}" -n argocd rollout status "$workload" --timeout=300s
  done
}
