#!/usr/bin/env bash
# Create the EKS cluster from clusters/eks/cluster.yaml with the values of
# clusters/eks/settings/settings.env (the one file that holds what is yours on EKS).
#
#   clusters/eks/create-cluster.sh            # eksctl create cluster
#   clusters/eks/create-cluster.sh --print    # only print the rendered eksctl config
#
# Needs eksctl (0.230 or newer: it asks EKS which Kubernetes versions exist) and AWS
# credentials allowed to create the cluster.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SETTINGS="$HERE/settings/settings.env"

# The variables cluster.yaml may use, and nothing else: a typo fails instead of vanishing.
VARIABLES=(CLUSTER_NAME AWS_REGION AWS_ACCOUNT_ID ARTIFACT_BUCKET VPC_CIDR)

render() {
  local text name value
  text="$(<"$HERE/cluster.yaml")"
  for name in "${VARIABLES[@]}"; do
    value="$(sed -n "s/^${name}=//p" "$SETTINGS")"
    [[ -n "$value" ]] || { echo "error: $name is not set in $SETTINGS" >&2; exit 2; }
    text="${text//\$\{$name\}/$value}"
  done
  # shellcheck disable=SC2016 # a literal dollar-brace: a variable left unreplaced
  if [[ "$text" == *'${'* ]]; then
    echo "error: cluster.yaml uses a variable that is not one of: ${VARIABLES[*]}" >&2
    exit 2
  fi
  printf '%s\n' "$text"
}

if [[ "${1:-}" == "--print" ]]; then
  render
  exit 0
fi
command -v eksctl >/dev/null || { echo "error: eksctl is required but not on PATH" >&2; exit 2; }
if grep -qE '^AWS_ACCOUNT_ID=111122223333$|^(ARTIFACT_BUCKET|DOMAIN)=.*example' "$SETTINGS"; then
  echo "error: $SETTINGS still holds example values; set your own first" >&2
  exit 2
fi
render | eksctl create cluster -f -
