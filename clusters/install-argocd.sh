# shellcheck shell=bash
# Sourced by clusters/<cluster>/bootstrap.sh: installs the pinned Argo CD both clusters run.
# Usage: install_argocd kubectl [--context NAME]

ARGOCD_VERSION="${ARGOCD_VERSION:-v3.5.1}"

install_argocd() {
  local -a kube=("$@")
  "${kube[@]}" create namespace argocd --dry-run=client -o yaml | "${kube[@]}" apply -f - >/dev/null
  "${kube[@]}" apply -n argocd --server-side --force-conflicts \
    -f "https://raw.githubusercontent.com/argoproj/argo-cd/${ARGOCD_VERSION}/manifests/install.yaml" >/dev/null
  # Sync waves only order Applications if Argo CD reports a child Application's health
  # (it stopped doing so by default in 1.8). Healthy counts only once the child is Synced too:
  # a child that has not synced yet is reported Healthy whenever the resources it already has
  # are healthy (missing ones do not count, argo-cd v3.5.1 controller/health.go), e.g. when
  # the bootstrap made its namespace, and the parent's next wave would start before it.
  "${kube[@]}" -n argocd patch configmap argocd-cm --type merge --patch-file /dev/stdin <<'PATCH' >/dev/null
data:
  resource.customizations.health.argoproj.io_Application: |
    hs = {status = "Progressing", message = ""}
    if obj.status ~= nil and obj.status.health ~= nil then
      hs.status = obj.status.health.status
      hs.message = obj.status.health.message or ""
      local synced = obj.status.sync ~= nil and obj.status.sync.status == "Synced"
      if hs.status == "Healthy" and not synced then
        hs.status = "Progressing"
        hs.message = "waiting for the Application to sync"
      end
    end
    return hs
PATCH
  "${kube[@]}" -n argocd rollout restart statefulset/argocd-application-controller >/dev/null
  local workload
  for workload in deployment/argocd-server deployment/argocd-repo-server \
    deployment/argocd-applicationset-controller statefulset/argocd-application-controller; do
    "${kube[@]}" -n argocd rollout status "$workload" --timeout=300s
  done
}
