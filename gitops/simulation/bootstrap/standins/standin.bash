# shellcheck shell=bash
# Sourced by every stand-in of this folder (docker, kind, kubectl, ...): sends the call to the
# run's model (standin.py, served by ../bootstrap_run.py on 127.0.0.1) and answers with what
# it says. One small bash process per call, no interpreter start-up.
#
# Request:  token, program, PWD, PPID, the count and `NAME=value`s of RECORDED, the count and
#           the arguments, the byte count of stdin: each NUL-terminated; then stdin's bytes.
# Answer:   "RC OUT ERR\n" then OUT bytes of stdout and ERR bytes of stderr. RC `wait`: keep
#           running (a port-forward) until killed or the run ends.

RECORDED=(CLUSTER_NAME IMAGE_SOURCE KEEP_CLUSTER REPO_URL REVISION MLFLOW_TRACKING_URI
  MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD REGISTRY_USER_PASSWORD)

# standin_reads_stdin ARGS...: whether the call reads its standard input (kubectl apply -f -,
# kubectl patch --patch-file /dev/stdin, eksctl create cluster -f -).
standin_reads_stdin() {
  local previous="" arg
  for arg in "$@"; do
    if [[ "$previous" == -f && "$arg" == - ]] || [[ "$arg" == /dev/stdin ]]; then
      return 0
    fi
    previous="$arg"
  done
  return 1
}

# standin PROGRAM ARGS...: the whole stand-in; exits with the model's exit code.
standin() {
  local LC_ALL=C # lengths in bytes
  local program="$1" input="" name rc out_length err_length out="" err=""
  local -a variables=()
  shift
  : "${STANDIN_PORT:?run through gitops/checks/bootstraps/bootstrap_run.py}"
  for name in "${RECORDED[@]}"; do
    [[ -v "$name" ]] && variables+=("$name=${!name}")
  done
  if standin_reads_stdin "$@"; then
    input="$(
      cat
      printf x
    )"
    input="${input%x}"
  fi
  exec 3<>"/dev/tcp/127.0.0.1/$STANDIN_PORT" || exit 97
  printf '%s\0' "$STANDIN_TOKEN" "$program" "$PWD" "$PPID" "${#variables[@]}" \
    "${variables[@]}" "$#" "$@" "${#input}" >&3
  printf '%s' "$input" >&3
  IFS=' ' read -r rc out_length err_length <&3 || exit 97
  ((out_length == 0)) || IFS= read -r -N "$out_length" out <&3
  ((err_length == 0)) || IFS= read -r -N "$err_length" err <&3
  printf '%s' "$out"
  printf '%s' "$err" >&2
  if [[ "$rc" == wait ]]; then
    IFS= read -r -N 1 _ <&3 # returns when the model ends the call (the run is over)
    exit 0
  fi
  exit "$rc"
}

# standin_python ARGS...: the scripts' $PY. Code that needs no MLflow runs for real (and
# `-m gitops` with the real PATH, so it renders with the real kubectl); the rest is modelled.
standin_python() {
  local real="" rc=0
  case "${1-}" in
  -c) [[ "${2-}" == *mlflow* ]] || real=1 ;;
  -m) [[ "${2-}" == gitops && "${3-}" != inventory ]] && real=1 ;;
  esac
  if [[ -z "$real" ]]; then
    standin python "$@"
  fi
  if [[ "${1-}" == -m ]]; then
    PATH="$STANDIN_REAL_PATH" "$STANDIN_PYTHON" "$@" || rc=$?
  else
    "$STANDIN_PYTHON" "$@" || rc=$?
  fi
  standin python-ran "$rc" "$@" </dev/null >/dev/null
}
