"""The model behind the recording stand-ins of this folder (docker, kind, kubectl, helm,
eksctl, aws, sleep and python, the scripts' $PY).

These stand-ins are MOCKS of what cannot run here: a Kubernetes cluster (kind, kubectl,
eksctl, aws), Docker image builds and registry pulls (docker), and the MLflow server inside
the cluster (`python -m training ...`, mlflow client snippets). Argo CD and what it syncs are
not mocked here: each cluster a script works on is a sync simulation (gitops/simulation),
which the calls drive (what a script creates happens there) and which answers what Argo CD
shows. The stand-ins model just enough for clusters/kind/bootstrap.sh, clusters/kind/e2e.sh,
clusters/eks/bootstrap.sh and clusters/eks/sync.sh to run to the end, so
gitops/checks/bootstraps/ can check the ORDER and the ARGUMENTS of the calls and
gitops/checks/first_sync.py where each simulated sync ends. They prove nothing about the
real programs: GitHub's e2e workflow (.github/workflows/e2e-kind.yaml, `make e2e`) runs the
real thing on a real Kind cluster.

How a call travels: ../run.py serves one `Run` of this module on 127.0.0.1
(STANDIN_PORT, STANDIN_TOKEN) and puts this folder first on PATH. Each program here is a few
lines of bash (standin.bash) that send the call (program, arguments, cwd, the calling
script, a few variables, stdin when it reads it) and print the answer: one small bash process
per call (a few milliseconds) instead of an interpreter start-up each (tens of them).
`Run` keeps the state (clusters, kubeconfig contexts and what each cluster holds, images,
the registry; saved to state.json in the run folder when the run ends) and appends one JSON
line per call to the log (calls.jsonl, STANDIN_LOG): seq, program, argv, cwd, script (the
bash script that made the call), env (a few variables, never passwords), rc, effect (what
the call did), error.

What they answer:
- kind: `get clusters`; `create cluster --name X` (adds X, current context kind-X; its nodes
  run the Docker engine's platform); `delete cluster --name X`; `load image-archive FILE
  --name X` (only into an existing cluster; loads the images FILE records, and refuses an
  archive saved without --platform or for another platform than the nodes'). `load
  docker-image` is refused: with Docker's containerd image store it fails for a pulled
  multi-platform image (kubernetes-sigs/kind#3795), so a script going back to it fails here.
- docker: `info`; `version --format T` (T made of {{.Client.F}} and {{.Server.F}} fields:
  Docker 28.0.4 on linux/amd64, or what the state's `docker` says); `image inspect` fails until
  the image is built; `pull` always fails (no registry here), so the scripts build; `build
  --tag REF CONTEXT` records REF (CONTEXT must hold a Dockerfile); `image save [--platform P]
  -o FILE REF...` (only images docker built or pulled, P only the engine's platform) writes
  FILE as a small JSON record of REFs and P, the stand-in of the archive, for `kind load
  image-archive`. When the run ends, state.json lists the archives still on disk
  (`archives_left`).
- kubectl, against an existing context (--context, else the current one): namespaces
  (`create namespace --dry-run=client -o yaml | apply -f -`); the Argo CD install (apply -f
  of its install.yaml, patch argocd-cm with its data or `apply -k` of Argo CD's settings
  (argocd-cm's data is what Argo CD reads), rollout restart/status); Secrets (`get
  secret` fails until `create secret generic` made it, in an existing namespace, or a
  controller of the simulated cluster wrote it; `-o jsonpath={.data.K}` is base64 of the
  value); `apply -k DIR` (rendered by the real kubectl, applied to the simulated cluster);
  Applications (`get application NAME -o jsonpath=...`, `get applications [-o json|wide]`),
  answered by the simulation run to rest with the registry as it is; a sync request (`patch
  application NAME --type merge -p '{"operation": {"sync": ...}}'`); `port-forward` (a real
  HTTP server on 127.0.0.1:LOCAL until the call is killed: /health, and for a tenant's
  Service GET /models/<name>/info and POST /models/<name>/predict of each model the pods
  behind it serve, from the version its alias points at); `config current-context` and
  `config use-context` (recorded as a switch); `kustomize` (the real kubectl).
- python: code that does not use mlflow, and `-m gitops` other than inventory, run for real
  (standin.bash); `-m gitops inventory ...` is answered from answers the caller derived from
  the same tree, else by running it for real; `-m training.registry_access ensure-user|
  grant-read|provision-tenant`, `-m training seed|seed-examples|train|promote` and the mlflow
  `search_model_versions` and `get_model_version_by_alias` snippets are answered from the
  registry in the state (users, versions, aliases, READ and EDIT grants), only through a live
  port-forward to svc/mlflow (MLFLOW_TRACKING_URI) and with the credentials the Secrets hold.
  `provision-tenant` needs the tenant's two users, trainer and the judge to exist and grants
  READ to `<tenant>` and EDIT to `<tenant>-trainer` on every model of the models file. `seed`
  trains the declared models of training's catalog (training/tenants.yaml) and skips the
  others, as the real command does; `seed-examples`, logged in as `<tenant>-trainer` with EDIT
  on the model, registers the declared models of training/examples/examples.yaml whose alias
  is unset (once: a later run reuses the version, as the real one does while the example's
  code and data are unchanged) and sets the alias.
- sleep: returns after at most 0.05 s; the requested time goes to a fake clock, and past
  SLEEP_BUDGET (60 s) sleep fails: a wait that cannot end ends the run at once.
- eksctl `create cluster -f` and `aws eks update-kubeconfig` (both switch the context);
  `aws acm describe-certificate` and `aws secretsmanager describe-secret`, from the simulated
  AWS account.
Anything else exits 1 with `standin PROGRAM: not modelled: ...` on stderr, so a new call in a
script shows up as a failure instead of passing silently.

Failure injection (Run.fail): `predict`, the tenants' services answer /predict from another
model version than /model/info says (e2e's last check fails).
"""

from __future__ import annotations

import binascii
import json
import os
import re
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from gitops.simulation.engine import Simulation
from gitops.simulation.pods import configmap_data, container_env, secret_data
from gitops.tree.findings import labels_of, name_of
from gitops.tree.selectors import matches_map, pod_template
from gitops.tree.tenant_models import read_declaration, served_declaration, serving
from inference.contracts.tenant_models import ModelsError

# Variables the log keeps of each call (the stand-ins also receive the passwords).
ENV_LOGGED = (
    "CLUSTER_NAME",
    "IMAGE_SOURCE",
    "KEEP_CLUSTER",
    "REPO_URL",
    "REVISION",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
)
PREEXISTING_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
ARGOCD_INSTALL = re.compile(r"/argoproj/argo-cd/(?P<version>[^/]+)/manifests/install\.yaml$")
HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"
SLEEP_CAP = 0.05
# Fake seconds a run may sleep in all: a passing run sleeps a few (its waits get timeouts of
# 0); a wait on something that failed earlier would otherwise spin on the script's own
# deadline (e.g. 120 s of real time for the MLflow port-forward).
SLEEP_BUDGET = 60.0
# The Docker the stand-in answers as: 28.0 is the first with `docker image save --platform`
# (API 1.48; docker/cli v28.0.0 cli/command/image/save.go), so a script that needs more
# fails here. A test may plant another one in the starting state.
DOCKER = {
    "client_version": "28.0.4",
    "client_api": "1.48",
    "server_version": "28.0.4",
    "server_api": "1.48",
    "os": "linux",
    "arch": "amd64",
}
ARCHIVE_MARK = "standin docker image save"
KIND_3795 = (
    "kubernetes-sigs/kind#3795: with Docker's containerd image store a pulled image holds one "
    "platform but its saved index names them all; save one with `docker image save --platform`"
)


class Unmodelled(Exception):
    """A call the stand-in was not told how to answer."""


class Failed(Exception):
    """The modelled program fails the way the real one would: message, exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def initial_state(
    current_context: str = "", other_contexts: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Nothing exists: no Kind cluster, no image, an empty registry. `current_context`: a
    cluster the kubeconfig already points at (EKS, created by eksctl); `other_contexts`:
    more clusters in the same kubeconfig (kind-* ones are Kind clusters of another day)."""
    kube = {current_context: new_cluster_state("eks")} if current_context else {}
    for context in other_contexts:
        kube[context] = new_cluster_state("kind" if context.startswith("kind-") else "eks")
    return {
        "seq": 0,
        "clock": 0,
        "clusters": [],
        "kube": kube,
        "current_context": current_context,
        "images": [],
        "loaded": {},
        "docker": dict(DOCKER),
        "node_platforms": {},  # Kind cluster -> the platform its nodes run
        "archives": [],  # files `docker image save -o` wrote
        "archives_left": [],  # those still on disk when the run ended
        # model -> aliases and versions; "readers": model -> users granted READ on it
        # "writers": model -> users granted EDIT on it (provision-tenant)
        "registry": {"users": {}, "models": {}, "readers": {}, "writers": {}, "seeded": False},
    }


def new_cluster_state(kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "namespaces": list(PREEXISTING_NAMESPACES),
        "secrets": {},
        "argocd": "",
        "argocd_health_check": False,
        "root": "",
        "restarted": [],
    }


@dataclass
class Call:
    program: str
    argv: list[str]
    cwd: str
    script: str
    env: dict[str, str]
    stdin: str = ""
    seq: int = 0
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    effect: dict[str, Any] = field(default_factory=dict)
    wait: bool = False  # keeps running after answering (port-forward)
    nap: float = 0.0  # answer after this many seconds (sleep)
    started: float = field(default_factory=time.time)

    def path(self, name: str) -> str:
        return name if os.path.isabs(name) else os.path.join(self.cwd, name)

    def entry(self, rc: int | None) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "program": self.program,
            "argv": self.argv,
            "cwd": self.cwd,
            "script": self.script,
            "env": {k: self.env[k] for k in ENV_LOGGED if k in self.env},
            "rc": rc,
            "effect": self.effect,
            "error": "".join(self.err).strip().splitlines()[0] if rc and self.err else "",
            "started": round(self.started, 3),
        }


@dataclass
class Forward:
    """A live `kubectl port-forward`: a real HTTP server on 127.0.0.1."""

    namespace: str
    target: str
    server: ThreadingHTTPServer

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Run:
    """One script run: the state, the call log, the live port-forwards.

    root: the repository copy the script runs in; folder: where state.json and calls.jsonl
    go; python: the real interpreter; real_path: PATH without the stand-ins; inventory:
    `python -m gitops inventory` answers (args joined by spaces -> stdout), shared between
    runs and completed by running the real command; fail: an injected failure."""

    def __init__(
        self,
        root: Path,
        folder: Path,
        python: str,
        real_path: str,
        inventory: dict[str, str],
        state: dict[str, Any] | None = None,
        fail: str = "",
        simulation: Callable[[str], Simulation] | None = None,
    ) -> None:
        self.root = str(root)
        # one simulated cluster (gitops/simulation) per kubeconfig context, made by
        # `simulation(kind of cluster)`: it answers for Argo CD and what Argo CD syncs
        self.new_simulation = simulation
        self.simulations: dict[str, Simulation] = {}
        self.log_path = folder / "calls.jsonl"
        self.state_path = folder / "state.json"
        self.python = python
        self.real_path = real_path
        self.inventory = inventory
        self.state = state or initial_state()
        self.fail = fail
        self.lock = threading.Lock()
        self.forwards: dict[int, Forward] = {}
        self.closed = threading.Event()
        self.log_path.touch()
        self.save()

    def save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def handle(self, call: Call) -> int:
        """Answer one call (fills call.out/err/effect) and log it; returns the exit code."""
        with self.lock:
            self.state["seq"] += 1
            call.seq = self.state["seq"]
            if call.program == "python-ran":  # standin.bash ran it for real: only log it
                rc = int(call.argv[0])
                call.program, call.argv = "python", call.argv[1:]
                call.effect["real"] = True
            else:
                try:
                    rc = PROGRAMS[call.program](self, call)
                except KeyError:
                    call.err.append(f"standin: unknown program {call.program}\n")
                    rc = 1
                except Unmodelled as exc:
                    call.effect = {"unmodelled": str(exc)}
                    call.err.append(
                        f"standin {call.program}: not modelled: "
                        f"{' '.join([call.program, *call.argv])[:300]}\n"
                        f"  ({exc}; teach gitops/simulation/bootstrap/standins/standin.py "
                        "this call)\n"
                    )
                    rc = 1
                except Failed as exc:
                    call.err.append(str(exc) + "\n")
                    rc = exc.code
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(call.entry(rc), sort_keys=True) + "\n")
        return rc

    def close(self) -> None:
        self.closed.set()
        with self.lock:
            forwards, self.forwards = list(self.forwards.values()), {}
            archives = self.state.get("archives") or []
            self.state["archives_left"] = [a for a in archives if os.path.exists(a)]
            self.save()
            # Each simulated cluster as the run left it, the registry included: a call that
            # reads a Secret the script created does not settle it (get_secret).
            for context in list(self.simulations):
                self.settled(context)
        for forward in forwards:
            forward.stop()

    # --- what several programs need -------------------------------------------------------

    def inventory_answer(self, args: list[str]) -> str:
        """stdout of `python -m gitops ARGS`: a kept answer, else the real command's."""
        key = " ".join(args)
        if key in self.inventory:
            return self.inventory[key]
        result = subprocess.run(
            [self.python, "-m", "gitops", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=self.root,
            env={
                **os.environ,
                "PATH": self.real_path,
                "PYTHONPATH": f"{self.root}/service:{self.root}",
            },
        )
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines() or [f"python -m gitops {key} failed"]
            summary = next((line for line in lines if line.startswith("error:")), lines[-1])
            raise Failed("\n".join([summary, *lines]), 1)  # the log keeps the first line
        self.inventory[key] = result.stdout
        return result.stdout

    def tree_list(self, cluster: str, *args: str) -> list[str]:
        return self.inventory_answer(["inventory", "--cluster", cluster, *args]).split()

    def tenant_models(self, cluster: str) -> dict[str, list[tuple[str, str]]]:
        """tenant -> (model, alias or version) of every model its models.yaml declares
        (overlays/<cluster>/tenants/*/models.yaml, read with the service's parser)."""
        found: dict[str, list[tuple[str, str]]] = {}
        for folder in sorted(Path(self.root).glob(f"overlays/{cluster}/tenants/*/")):
            try:
                declaration = read_declaration(folder)
            except ModelsError:
                continue
            found[folder.name] = [(m.name, str(m.alias or m.version)) for m in declaration.models]
        return found

    def catalog(self) -> dict[str, str]:
        """tenant -> the model `python -m training train --tenant` registers for it:
        `<tenant>-<dataset>` of training/tenants.yaml (training/lifecycle/catalog.py)."""
        path = Path(self.root) / "training" / "tenants.yaml"
        document = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
        tenants = (document or {}).get("tenants") or {}
        return {str(t): f"{t}-{(e or {}).get('dataset')}" for t, e in tenants.items()}

    def examples(self) -> dict[str, str]:
        """model -> its tenant, of the team examples the repository bundles
        (training/examples/examples.yaml, training/lifecycle/team_examples.py)."""
        path = Path(self.root) / "training" / "examples" / "examples.yaml"
        document = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
        entries = (document or {}).get("examples") or {}
        return {str(m): str((e or {}).get("tenant")) for m, e in entries.items()}

    def grant_edit(self, user: str, model: str) -> None:
        writers = self.state["registry"].setdefault("writers", {})
        if user not in writers.setdefault(model, []):
            writers[model].append(user)

    def grant_read(self, user: str, model: str) -> None:
        readers = self.state["registry"].setdefault("readers", {})
        if user not in readers.setdefault(model, []):
            readers[model].append(user)

    def real_kubectl(self) -> str:
        for folder in self.real_path.split(os.pathsep):
            candidate = os.path.join(folder, "kubectl")
            if folder and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        raise Failed("standin kubectl: no real kubectl on the real PATH to render with")

    def alias_version(self, model: str, alias: str) -> str:
        entry = self.state["registry"]["models"].get(model) or {}
        if alias.isdigit():
            return alias if int(alias) <= int(entry.get("versions", 0)) else ""
        return str((entry.get("aliases") or {}).get(alias, ""))

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """A key of a Secret the script created, or one a controller wrote in a simulated
        cluster (an ExternalSecret's target on EKS)."""
        for cluster in self.state["kube"].values():
            data = cluster["secrets"].get(f"{namespace}/{name}")
            if data is not None and key in data:
                return str(data[key])
        for sim in self.simulations.values():
            data = secret_data(sim.cluster, namespace, name)
            if data is not None and key in data:
                return data[key]
        return None

    def simulation(self, context: str) -> Simulation | None:
        """The simulated cluster behind `context` (None without a simulation factory)."""
        if self.new_simulation is None or context not in self.state["kube"]:
            return None
        if context not in self.simulations:
            self.simulations[context] = self.new_simulation(self.state["kube"][context]["kind"])
        return self.simulations[context]

    def settled(self, context: str) -> Simulation | None:
        """The simulation behind `context`, run to rest with the registry as it is now."""
        sim = self.simulation(context)
        if sim is None:
            return None
        registry = sim.world.registry
        registry.users = dict(self.state["registry"]["users"])
        registry.aliases = {
            m: dict(e["aliases"]) for m, e in self.state["registry"]["models"].items()
        }
        registry.versions = {
            m: int(e["versions"]) for m, e in self.state["registry"]["models"].items()
        }
        registry.readers = {
            m: set(users) for m, users in self.state["registry"].get("readers", {}).items()
        }
        sim.settle()
        return sim

    def application_status(self, context: str) -> dict[str, tuple[str, str]]:
        """What Argo CD reports for each Application of the cluster behind `context`: the
        simulated cluster's (gitops/simulation), run to rest first."""
        sim = self.settled(context)
        if sim is None:
            raise Failed(
                "standin: no simulated cluster behind this context (a Run needs a factory)"
            )
        return {v.name: (v.sync, v.health) for v in sim.applications()}


# --- kubectl ------------------------------------------------------------------------------

KUBECTL_VALUE_FLAGS = {
    "--context": "context",
    "-n": "namespace",
    "--namespace": "namespace",
    "-o": "output",
    "--output": "output",
    "-l": "selector",
    "--selector": "selector",
    "-f": "filename",
    "--filename": "filename",
    "-k": "kustomize",
    "--kustomize": "kustomize",
    "--type": "type",
    "--patch-file": "patch_file",
    "--timeout": "timeout",
    "--dry-run": "dry_run",
    "--from-literal": "from_literal",
    "-p": "patch",
    "--patch": "patch",
}
KUBECTL_BOOL_FLAGS = {"--server-side", "--force-conflicts"}


def parse_kubectl(argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    words: list[str] = []
    flags: dict[str, Any] = {"from_literal": [], "bools": set()}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, inline = arg.partition("=")
        if arg.startswith("-") and name in KUBECTL_VALUE_FLAGS:
            if eq:
                value = inline
            elif i + 1 < len(argv):
                i += 1
                value = argv[i]
            else:
                raise Unmodelled(f"flag {arg} without a value")
            key = KUBECTL_VALUE_FLAGS[name]
            if key == "from_literal":
                flags[key].append(value)
            else:
                flags[key] = value
        elif arg in KUBECTL_BOOL_FLAGS:
            flags["bools"].add(arg)
        elif arg.startswith("-") and arg != "-":
            raise Unmodelled(f"flag {arg}")
        else:
            words.append(arg)
        i += 1
    return words, flags


def objects_of(text: str) -> list[str]:
    """`Kind name` of each document of a YAML stream (top-level kind, metadata.name)."""
    found = []
    for doc in re.split(r"^---\s*$", text, flags=re.MULTILINE):
        kind = re.search(r"^kind:\s*(\S+)", doc, re.MULTILINE)
        name = re.search(r"^metadata:\s*\n(?:\s+.*\n)*?\s+name:\s*(\S+)", doc, re.MULTILINE)
        if kind and name:
            found.append(f"{kind[1]} {name[1].strip(chr(34))}")
    return found


def kubectl(run: Run, call: Call) -> int:
    state = run.state
    words, flags = parse_kubectl(call.argv)
    verb = words[:1]
    if verb == ["kustomize"]:
        result = subprocess.run(
            [run.real_kubectl(), *call.argv],
            capture_output=True,
            text=True,
            check=False,
            cwd=call.cwd,
        )
        call.out.append(result.stdout)
        call.err.append(result.stderr)
        return result.returncode
    if words == ["config", "current-context"]:
        if not state["current_context"]:
            raise Failed("error: current-context is not set")
        call.out.append(state["current_context"] + "\n")
        return 0
    if words[:2] == ["config", "use-context"] and len(words) == 3:
        if words[2] not in state["kube"]:
            raise Failed(f'error: no context exists with the name: "{words[2]}"')
        state["current_context"] = words[2]
        call.effect["switch_context"] = words[2]
        call.out.append(f'Switched to context "{words[2]}".\n')
        return 0

    context = flags.get("context") or state["current_context"]
    if not context:
        raise Failed("error: current-context is not set (no --context, no current context)")
    if context not in state["kube"]:
        raise Failed(f'error: context "{context}" does not exist')
    call.effect["context"] = context
    cluster = state["kube"][context]
    namespace = flags.get("namespace", "")

    def need_argocd(what: str) -> None:
        if not cluster["argocd"]:
            raise Failed(f'error: the server doesn\'t have a resource type "{what}"')

    if words[:2] == ["create", "namespace"] and len(words) == 3:
        if flags.get("dry_run") == "client" and flags.get("output") == "yaml":
            call.out.append(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {words[2]}\n")
            return 0
        raise Unmodelled("create namespace without --dry-run=client -o yaml")
    if verb == ["apply"] and len(words) == 1 and flags.get("filename") == "-":
        applied = objects_of(call.stdin)
        for obj in applied:
            kind, name = obj.split(" ", 1)
            if kind != "Namespace":
                raise Unmodelled(f"apply -f - of a {kind}")
            if name not in cluster["namespaces"]:
                cluster["namespaces"].append(name)
            if (sim := run.simulation(context)) is not None:
                sim.create_namespace(name)
        call.effect["applied"] = applied
        call.out.append("".join(f"namespace/{o.split(' ', 1)[1]} configured\n" for o in applied))
        return 0
    if verb == ["apply"] and len(words) == 1 and "filename" in flags:
        install = ARGOCD_INSTALL.search(flags["filename"])
        if not install or namespace != "argocd":
            raise Unmodelled(f"apply -n {namespace} -f {flags['filename']}")
        if "argocd" not in cluster["namespaces"]:
            raise Failed('Error from server (NotFound): namespaces "argocd" not found')
        cluster["argocd"] = install["version"]
        call.effect["argocd_installed"] = install["version"]
        if (sim := run.simulation(context)) is not None:
            sim.install_argocd()
        return 0
    if verb == ["apply"] and len(words) == 1 and "kustomize" in flags:
        return apply_kustomization(run, call, context, flags["kustomize"])
    if words[:3] == ["patch", "configmap", "argocd-cm"] and namespace == "argocd":
        need_argocd("configmap argocd-cm")
        cluster["argocd_health_check"] = HEALTH_KEY in call.stdin
        call.effect["argocd_cm"] = {"application_health": cluster["argocd_health_check"]}
        if (sim := run.simulation(context)) is not None:
            data = (yaml.safe_load(call.stdin) or {}).get("data") or {}
            sim.world.argocd_cm.update({str(k): str(v) for k, v in data.items()})
        return 0
    if words[:2] == ["patch", "application"] and len(words) == 3 and namespace == "argocd":
        return request_sync(run, call, context, words[2], flags)
    if verb == ["rollout"] and len(words) == 3 and words[1] in ("restart", "status"):
        need_argocd("rollout")
        if namespace != "argocd" or not words[2].split("/")[-1].startswith("argocd-"):
            raise Unmodelled(f"rollout of {namespace}/{words[2]}")
        if words[1] == "restart":
            cluster["restarted"].append(words[2])
            call.out.append(f"{words[2]} restarted\n")
        else:
            call.out.append(f'{words[2]} "{words[2].split("/")[-1]}" successfully rolled out\n')
        return 0
    if words[:2] == ["get", "secret"] and len(words) == 3:
        # The simulation is run to rest only for a Secret the script did not create (one a
        # controller writes, such as an ExternalSecret's target): settling costs ~0.1 s a call.
        return get_secret(
            call, cluster, namespace or "default", words[2], flags, lambda: run.settled(context)
        )
    if words[:3] == ["create", "secret", "generic"] and len(words) == 4:
        target = namespace or "default"
        if target not in cluster["namespaces"]:
            raise Failed(f'error: failed to create secret namespaces "{target}" not found')
        if f"{target}/{words[3]}" in cluster["secrets"]:
            raise Failed(f'error: failed to create secret secrets "{words[3]}" already exists')
        data = dict(literal.partition("=")[::2] for literal in flags["from_literal"])
        if (sim := run.simulation(context)) is not None:
            refused = sim.create_secret(target, words[3], data)
            if refused:
                raise Failed(f"error: failed to create secret {refused}")
        cluster["secrets"][f"{target}/{words[3]}"] = data
        call.effect["secret_created"] = {"secret": f"{target}/{words[3]}", "keys": sorted(data)}
        call.out.append(f"secret/{words[3]} created\n")
        return 0
    if words[:2] in (["get", "application"], ["get", "applications"]):
        return get_applications(run, call, context, words, flags)
    if verb == ["port-forward"] and len(words) == 3:
        return port_forward(run, call, context, namespace, words[1], words[2])
    raise Unmodelled(" ".join(words) or "no command")


def request_sync(run: Run, call: Call, context: str, name: str, flags: dict[str, Any]) -> int:
    """`kubectl -n argocd patch application NAME --type merge -p '{"operation": {...}}'`: a
    sync requested the way Argo CD's docs/user-guide/sync-kubectl.md describes (v3.5.1)."""
    if flags.get("type") != "merge" or "patch" not in flags:
        raise Unmodelled("patch application without --type merge -p JSON")
    try:
        operation = (json.loads(flags["patch"]) or {}).get("operation") or {}
    except ValueError as exc:
        raise Failed(f"error: unable to parse the patch: {exc}") from exc
    sync = operation.get("sync")
    if not isinstance(sync, dict):
        raise Unmodelled("patch application without operation.sync")
    prune = bool(sync.get("prune"))
    call.effect["sync_requested"] = {"application": name, "prune": prune}
    sim = run.settled(context)
    if sim is None:
        return 0
    refused = sim.request_sync(name, prune)
    if refused:
        raise Failed(f'Error from server: applications.argoproj.io "{name}": {refused}')
    call.out.append(f"application.argoproj.io/{name} patched\n")
    return 0


def get_secret(
    call: Call,
    cluster: dict[str, Any],
    namespace: str,
    name: str,
    flags: dict[str, Any],
    settled: Callable[[], Simulation | None] = lambda: None,
) -> int:
    """A Secret the script created, or (with a simulation, `settled()`) one a controller
    wrote, such as an ExternalSecret's target."""
    data = cluster["secrets"].get(f"{namespace}/{name}")
    sim = settled() if data is None else None
    if data is None and sim is not None:
        data = secret_data(sim.cluster, namespace, name)
    if data is None:
        raise Failed(f'Error from server (NotFound): secrets "{name}" not found')
    output = flags.get("output", "")
    key = re.fullmatch(r"jsonpath=\{\.data\.([\w.-]+)\}", output)
    if key:
        value = data.get(key[1])
        call.effect["read_secret"] = f"{namespace}/{name}:{key[1]}"
        if value is not None:
            call.out.append(binascii.b2a_base64(value.encode(), newline=False).decode())
        return 0
    if output:
        raise Unmodelled(f"get secret -o {output}")
    call.out.append(f"NAME   TYPE     DATA   AGE\n{name}   Opaque   {len(data)}      1s\n")
    return 0


def apply_kustomization(run: Run, call: Call, context: str, folder: str) -> int:
    cluster = run.state["kube"][context]
    if not cluster["argocd"]:
        raise Failed(
            'error: resource mapping not found for kind "Application" in version '
            '"argoproj.io/v1alpha1": ensure CRDs are installed first'
        )
    result = subprocess.run(
        [run.real_kubectl(), "kustomize", call.path(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise Failed(result.stderr.strip() or f"kustomize build {folder} failed")
    objects = objects_of(result.stdout)
    root = os.path.realpath(run.root)
    resolved = os.path.realpath(call.path(folder))
    inside = os.path.commonpath([root, resolved]) == root
    call.effect["kustomization"] = os.path.relpath(resolved, root) if inside else folder
    call.effect["applied"] = objects
    if "Application root" in objects:
        cluster["root"] = call.effect["kustomization"]
        call.effect["root"] = True
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    settings = next((d for d in documents if _is_argocd_cm(d)), None)
    if settings is not None:
        # Argo CD's settings (clusters/install-argocd.sh applies overlays/<cluster>/argocd/
        # config): Argo CD reads argocd-cm's data from then on.
        data = {str(k): str(v) for k, v in (settings.get("data") or {}).items()}
        cluster["argocd_health_check"] = HEALTH_KEY in data
        call.effect["argocd_cm"] = {"application_health": cluster["argocd_health_check"]}
    if (sim := run.simulation(context)) is not None:
        if settings is not None:
            sim.world.argocd_cm.update(data)
        refused = sim.apply(documents)
        if refused:
            raise Failed("\n".join(f"Error from server: {r}" for r in refused))
    call.out.append("".join(f"{o.lower().replace(' ', '/')} created\n" for o in objects))
    return 0


def _is_argocd_cm(obj: dict[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    return (
        obj.get("kind") == "ConfigMap"
        and meta.get("name") == "argocd-cm"
        and meta.get("namespace") == "argocd"
    )


def get_applications(
    run: Run, call: Call, context: str, words: list[str], flags: dict[str, Any]
) -> int:
    if not run.state["kube"][context]["argocd"]:
        raise Failed('error: the server doesn\'t have a resource type "applications"')
    if flags.get("namespace") != "argocd":
        raise Unmodelled(f"get applications in namespace {flags.get('namespace')!r}")
    statuses = run.application_status(context)
    output = flags.get("output", "")
    if len(words) == 3:
        name = words[2]
        if name not in statuses:
            raise Failed(
                f'Error from server (NotFound): applications.argoproj.io "{name}" not found'
            )
        sync, health = statuses[name]
        fields = {
            "jsonpath={.status.sync.status}": sync,
            "jsonpath={.status.health.status}": health,
        }
        if output not in fields:
            raise Unmodelled(f"get application {name} -o {output}")
        call.out.append(fields[output])
        call.effect["application"] = {
            "name": name,
            "field": "sync" if "sync" in output else "health",
            "answer": fields[output],
        }
        return 0
    call.effect["applications"] = {n: f"{s}/{h}" for n, (s, h) in sorted(statuses.items())}
    if output == "json":
        items = [
            {
                "metadata": {"name": n, "namespace": "argocd"},
                "status": {"sync": {"status": s}, "health": {"status": h}},
            }
            for n, (s, h) in sorted(statuses.items())
        ]
        call.out.append(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        return 0
    if output not in ("", "wide"):
        raise Unmodelled(f"get applications -o {output}")
    if not statuses:
        call.err.append("No resources found in argocd namespace.\n")
        return 0
    rows = [f"{'NAME':<24}{'SYNC STATUS':<14}HEALTH STATUS"]
    rows += [f"{n:<24}{s:<14}{h}" for n, (s, h) in sorted(statuses.items())]
    call.out.append("\n".join(rows) + "\n")
    return 0


def port_forward(
    run: Run, call: Call, context: str, namespace: str, target: str, ports: str
) -> int:
    cluster = run.state["kube"][context]
    statuses = run.application_status(context)
    local, _, remote = ports.partition(":")
    if not local.isdigit() or not remote:
        raise Unmodelled(f"port-forward ports {ports}")
    if target == "svc/mlflow" and namespace == "mlflow":
        if statuses.get("mlflow", ("", ""))[1] != "Healthy":
            raise Failed('error: unable to forward port: no ready pod behind service "mlflow"')
        tenant = ""
        served: list[tuple[str, str]] = []
    elif target.startswith("svc/") and namespace in run.tree_list(cluster["kind"], "--tenants"):
        if statuses.get(namespace, ("", ""))[1] != "Healthy":
            raise Failed(f"error: unable to forward port: no ready pod in {namespace}")
        tenant = namespace
        served = service_models(run.settled(context), namespace, target.removeprefix("svc/"))
    else:
        raise Unmodelled(f"port-forward -n {namespace} {target}")
    handler = service_handler(run, tenant, served)
    deadline = time.monotonic() + 1.0
    while True:
        try:
            server = ThreadingHTTPServer(("127.0.0.1", int(local)), handler)
            break
        except OSError as exc:
            # A port-forward the script just killed frees its port at once; ours takes a
            # moment to notice (see _Request.wait_until_killed).
            if int(local) not in run.forwards or time.monotonic() > deadline:
                raise Failed(f"Unable to listen on port {local}: {exc}") from exc
            time.sleep(0.01)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    run.forwards[int(local)] = Forward(namespace, target, server)
    call.effect["port_forward"] = {"namespace": namespace, "target": target, "local": int(local)}
    call.out.append(f"Forwarding from 127.0.0.1:{local} -> {remote}\n")
    call.wait = True
    return 0


def service_models(sim: Simulation | None, namespace: str, service: str) -> list[tuple[str, str]]:
    """(model, alias or version) of every model the pods behind a tenant's Service serve, as
    the simulated cluster has them: the Service's selector, the Deployments whose pods it
    selects, the models file each mounts and its MODEL_DEPLOYMENT."""
    if sim is None:
        raise Failed("standin: no simulated cluster behind this context (a Run needs a factory)")
    found = next(
        (o for o in sim.cluster.of_kind("", "Service", namespace) if name_of(o) == service), None
    )
    if found is None:
        raise Failed(f'Error from server (NotFound): services "{service}" not found')
    selector = (found.get("spec") or {}).get("selector") or {}
    served: list[tuple[str, str]] = []
    for workload in sim.cluster.of_kind("apps", "Deployment", namespace):
        template = pod_template(workload) or {}
        if not matches_map(selector, labels_of(template)):
            continue
        spec = template.get("spec") or {}
        for container in spec.get("containers") or []:
            env = container_env(container, namespace, sim.cluster)
            config = serving(spec, container, env)
            if config.mounted is None:
                continue
            data = configmap_data(sim.cluster, namespace, config.mounted.configmap) or {}
            try:
                models = served_declaration(data.get(config.mounted.key), None)
                served += [
                    (m.name, str(m.alias or m.version)) for m in models.served_by(config.deployment)
                ]
            except ModelsError as error:
                raise Failed(f"standin: {namespace}/{service}: {error}") from error
    return served


def service_handler(
    run: Run, tenant: str, models: list[tuple[str, str]]
) -> type[BaseHTTPRequestHandler]:
    """MLflow (tenant ""): /health. A tenant's inference service (the models behind the
    forwarded Service): /health, GET /models/<name>/info and POST /models/<name>/predict,
    each from the version the registry's alias points at; /model/info and POST /predict
    when it serves exactly one model (service/inference/api, docs/serving.md)."""
    by_name = dict(models)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def model(self, action: str) -> str | None:
            """The model a path names: /models/<name>/<action>, or the one-model path
            (/model/info, /predict) when the service serves exactly one."""
            parts = self.path.split("/")
            if len(parts) == 4 and parts[1] == "models" and parts[3] == action:
                return parts[2]
            one_model = {"info": "/model/info", "predict": "/predict"}[action]
            return models[0][0] if self.path == one_model and len(models) == 1 else None

        def served(self, name: str) -> dict[str, Any] | None:
            alias = by_name[name]
            with run.lock:
                version = run.alias_version(name, alias)
            return {"name": name, "version": version, "alias": alias} if version else None

        def do_GET(self) -> None:
            if self.path == "/health":
                self.answer(200, {"status": "OK"})
                return
            name = self.model("info") if tenant else None
            if name is None or name not in by_name:
                self.answer(404, {"detail": "Not Found"})
                return
            model = self.served(name)
            if model is None:
                self.answer(503, {"detail": f"{name}: no version loaded"})
                return
            example = [[5.1, 3.5, 1.4, 0.2]]
            self.answer(200, {"tenant": tenant, **model, "input_example": example})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            name = self.model("predict") if tenant else None
            if name is None or name not in by_name:
                self.answer(404, {"detail": "Not Found"})
                return
            try:
                json.loads(body or b"null")
            except ValueError:
                self.answer(422, {"detail": "not JSON"})
                return
            model = self.served(name)
            if model is None:
                self.answer(503, {"detail": f"{name}: no version loaded"})
                return
            if run.fail == "predict":  # the injected failure: served by another version
                model = {**model, "version": str(int(model["version"]) + 100)}
            self.answer(200, {"model": model, "predictions": [0]})

    return Handler


# --- kind, docker -------------------------------------------------------------------------


def option(argv: list[str], name: str, default: str = "") -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def kind(run: Run, call: Call) -> int:
    state, argv = run.state, call.argv
    name = option(argv, "--name", "kind")  # kind's default cluster name
    if argv == ["get", "clusters"]:
        if state["clusters"]:
            call.out.append("".join(c + "\n" for c in state["clusters"]))
        else:
            call.err.append("No kind clusters found.\n")
        return 0
    if argv[:2] == ["create", "cluster"]:
        config = option(argv, "--config")
        if config and not os.path.isfile(call.path(config)):
            raise Failed(f"ERROR: failed to create cluster: {config}: no such file")
        if name in state["clusters"]:
            raise Failed(
                "ERROR: failed to create cluster: node(s) already exist for a cluster with "
                f'the name "{name}"'
            )
        state["clusters"].append(name)
        state["kube"][f"kind-{name}"] = new_cluster_state("kind")
        state["node_platforms"][name] = engine_platform(state)
        state["current_context"] = f"kind-{name}"
        call.effect["cluster_created"] = name
        call.err.append(f'Creating cluster "{name}" ...\nSet kubectl context to "kind-{name}"\n')
        return 0
    if argv[:2] == ["delete", "cluster"]:
        call.err.append(f'Deleting cluster "{name}" ...\n')
        if name in state["clusters"]:
            state["clusters"].remove(name)
            state["kube"].pop(f"kind-{name}", None)
            state["loaded"].pop(name, None)
            state["node_platforms"].pop(name, None)
            if state["current_context"] == f"kind-{name}":
                state["current_context"] = ""
            call.effect["cluster_deleted"] = name
        return 0
    if argv[:2] == ["load", "docker-image"]:
        raise Failed(
            "ERROR: failed to load image: ctr: content digest sha256:...: not found "
            f"(standin kind: `kind load docker-image` is refused; {KIND_3795})"
        )
    if argv[:2] == ["load", "image-archive"]:
        return load_image_archive(run, call, name, positional(argv[2:], {"--name"}))
    raise Unmodelled(" ".join(argv) or "no command")


def positional(args: list[str], value_flags: set[str]) -> list[str]:
    """The arguments that are not flags (nor a value flag's value); any other flag is new."""
    words, i = [], 0
    while i < len(args):
        flag = args[i].partition("=")[0]
        if flag in value_flags:
            i += 1 if "=" in args[i] else 2
            continue
        if args[i].startswith("-"):
            raise Unmodelled(f"flag {args[i]}")
        words.append(args[i])
        i += 1
    return words


def engine_platform(state: dict[str, Any]) -> str:
    return f"{state['docker']['os']}/{state['docker']['arch']}"


def load_image_archive(run: Run, call: Call, name: str, files: list[str]) -> int:
    """`kind load image-archive FILE... --name X`: the images each archive records."""
    state = run.state
    if not files:
        raise Failed("ERROR: name of image archive is required")
    for file in files:
        if not os.path.isfile(call.path(file)):
            raise Failed(f"ERROR: stat {file}: no such file or directory")
    if name not in state["clusters"]:
        raise Failed(f'ERROR: no nodes found for cluster "{name}"')
    nodes = state["node_platforms"].get(name, "")
    refs: list[str] = []
    for file in files:
        try:
            record = json.loads(Path(call.path(file)).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
        if not isinstance(record, dict) or record.get("made_by") != ARCHIVE_MARK:
            raise Failed(f"ERROR: failed to load image: ctr: {file}: unrecognized image format")
        platform = str(record.get("platform") or "")
        if not platform:
            raise Failed(
                "ERROR: failed to load image: ctr: content digest sha256:...: not found "
                f"(standin kind: {Path(file).name} was saved without --platform; {KIND_3795})"
            )
        if platform.split("/")[:2] != nodes.split("/")[:2]:
            raise Failed(
                f"standin kind: {file} holds {platform} images, but the nodes of {name} run "
                f"{nodes}: their containers would not start (exec format error)"
            )
        refs += [str(ref) for ref in record.get("images") or []]
    state["loaded"].setdefault(name, []).extend(refs)
    call.effect["loaded"] = {"cluster": name, "images": refs, "archives": files}
    if (sim := run.simulation(f"kind-{name}")) is not None:
        sim.world.images.loaded.update(refs)
    return 0


def docker(run: Run, call: Call) -> int:
    state, argv = run.state, call.argv
    if argv == ["info"]:
        call.out.append("Server Version: standin\n")
        return 0
    if argv[:1] == ["version"]:
        return docker_version(run, call)
    if argv[:2] == ["image", "save"] or argv[:1] == ["save"]:
        return docker_save(run, call, argv[2:] if argv[0] == "image" else argv[1:])
    if argv[:2] == ["image", "inspect"] and len(argv) == 3:
        if argv[2] not in state["images"]:
            raise Failed(f"Error: No such image: {argv[2]}")
        call.out.append(json.dumps([{"RepoTags": [argv[2]]}]) + "\n")
        return 0
    if argv[:1] == ["pull"] and len(argv) == 2:
        raise Failed(f"Error response from daemon: pull access denied for {argv[1]} (no registry)")
    if argv[:1] == ["build"]:
        words, tags, build_args, i = [], [], [], 1
        while i < len(argv):
            if argv[i] in ("--tag", "-t") and i + 1 < len(argv):
                tags.append(argv[i + 1])
                i += 2
            elif argv[i] == "--build-arg" and i + 1 < len(argv):
                build_args.append(argv[i + 1])
                i += 2
            elif argv[i] == "--secret" and i + 1 < len(argv):
                i += 2
            elif argv[i].startswith("-"):
                raise Unmodelled(f"build flag {argv[i]}")
            else:
                words.append(argv[i])
                i += 1
        if len(words) != 1 or not tags:
            raise Unmodelled("build without one context and a --tag")
        if not os.path.isfile(os.path.join(call.path(words[0]), "Dockerfile")):
            raise Failed(f"ERROR: failed to read dockerfile: {words[0]}/Dockerfile: not found")
        state["images"].extend(t for t in tags if t not in state["images"])
        root = os.path.realpath(run.root)
        context = os.path.relpath(os.path.realpath(call.path(words[0])), root)
        call.effect["built"] = {"tags": tags, "context": context, "build_args": build_args}
        call.err.append("".join(f"naming to {t} done\n" for t in tags))
        return 0
    raise Unmodelled(" ".join(argv) or "no command")


VERSION_FIELDS = {
    "Client": {
        "Version": "client_version",
        "APIVersion": "client_api",
        "DefaultAPIVersion": "client_api",
        "Os": "os",
        "Arch": "arch",
    },
    "Server": {
        "Version": "server_version",
        "APIVersion": "server_api",
        "Os": "os",
        "Arch": "arch",
    },
}
VERSION_FIELD = re.compile(r"\{\{\s*\.(\w+)\.(\w+)\s*\}\}")


def docker_version(run: Run, call: Call) -> int:
    """`docker version --format T`: T's {{.Client.F}} and {{.Server.F}} filled in."""
    template = option(call.argv, "--format") or option(call.argv, "-f")
    if not template or positional(call.argv[1:], {"--format", "-f"}):
        raise Unmodelled("version without --format")
    facts = run.state["docker"]

    def field(match: re.Match[str]) -> str:
        key = VERSION_FIELDS.get(match[1], {}).get(match[2])
        if key is None:
            raise Unmodelled(f"version field .{match[1]}.{match[2]}")
        return str(facts[key])

    answer = VERSION_FIELD.sub(field, template)
    if "{{" in answer:
        raise Unmodelled(f"version template {template}")
    call.effect["version"] = answer
    call.out.append(answer + "\n")
    return 0


def docker_save(run: Run, call: Call, args: list[str]) -> int:
    """`docker image save [--platform P] -o FILE REF...`: FILE records the REFs and P."""
    state = run.state
    refs = positional(args, {"--platform", "-o", "--output"})
    output = option(args, "-o") or option(args, "--output")
    platform = option(args, "--platform")
    if not output:
        raise Unmodelled("image save to stdout (the stand-in writes archives with -o FILE only)")
    if not refs:
        raise Failed('"docker image save" requires at least 1 argument.')
    for ref in refs:
        if ref not in state["images"]:
            raise Failed(f"Error response from daemon: No such image: {ref}")
    # The images here were built (or pulled) by this engine, so they are of its platform.
    if platform and platform.split("/")[:2] != engine_platform(state).split("/"):
        raise Failed(
            f"Error response from daemon: no suitable export target found for platform {platform}"
        )
    path = call.path(output)
    if not os.path.isdir(os.path.dirname(path) or "."):
        raise Failed(
            "failed to save image: invalid output path: directory "
            f'"{os.path.dirname(output)}" does not exist'
        )
    record = {"made_by": ARCHIVE_MARK, "images": refs, "platform": platform}
    Path(path).write_text(json.dumps(record) + "\n", encoding="utf-8")
    archive = os.path.realpath(path)
    state["archives"].append(archive)
    call.effect["saved"] = {"images": refs, "platform": platform, "archive": archive}
    return 0


# --- eksctl, aws, helm, sleep -------------------------------------------------------------


def eksctl(run: Run, call: Call) -> int:
    argv = call.argv
    if argv[:2] == ["create", "cluster"] and "-f" in argv:
        source = option(argv, "-f")
        text = call.stdin if source == "-" else Path(call.path(source)).read_text("utf-8")
        name = re.search(r"^metadata:\s*\n(?:\s+.*\n)*?\s+name:\s*(\S+)", text, re.MULTILINE)
        region = re.search(r"^\s+region:\s*(\S+)", text, re.MULTILINE)
        if not name:
            raise Failed("Error: metadata.name must be set")
        context = f"standin@{name[1]}.{region[1] if region else 'us-east-1'}.eksctl.io"
        run.state["kube"][context] = new_cluster_state("eks")
        run.state["current_context"] = context
        call.effect["cluster_created"] = name[1]
        call.effect["switch_context"] = context
        return 0
    raise Unmodelled(" ".join(argv) or "no command")


def aws(run: Run, call: Call) -> int:
    """`aws eks update-kubeconfig`; with a simulation, `aws acm describe-certificate` and
    `aws secretsmanager describe-secret`, answered from the simulated AWS account (as the
    documented first-deploy steps leave it, gitops/simulation/start.py)."""
    argv = call.argv
    if argv[:2] in (["acm", "describe-certificate"], ["secretsmanager", "describe-secret"]):
        sim = run.simulation(run.state["current_context"])
        if sim is None:
            raise Unmodelled(" ".join(argv[:2]) + " without a simulated AWS account")
        cloud = sim.world.cloud
        if argv[0] == "acm":
            arn = option(argv, "--certificate-arn")
            found = next((c for c in cloud.certificates if c.arn == arn), None)
            call.effect["certificate"] = {"arn": arn, "found": found is not None}
            if found is None:
                raise Failed(
                    "An error occurred (ResourceNotFoundException) when calling the "
                    f"DescribeCertificate operation: Could not find certificate {arn}.",
                    254,
                )
            if option(argv, "--query") != "Certificate.Status":
                raise Unmodelled("acm describe-certificate without --query Certificate.Status")
            call.out.append(("ISSUED" if found.issued else "PENDING_VALIDATION") + "\n")
            return 0
        key = option(argv, "--secret-id")
        call.effect["secret"] = {"key": key, "found": key in cloud.secrets}
        if key not in cloud.secrets:
            raise Failed(
                "An error occurred (ResourceNotFoundException) when calling the "
                "DescribeSecret operation: Secrets Manager can't find the specified secret.",
                254,
            )
        call.out.append(json.dumps({"Name": key}) + "\n")
        return 0
    if argv[:2] == ["eks", "update-kubeconfig"] and option(argv, "--name"):
        region = option(argv, "--region", "us-east-1")
        context = f"arn:aws:eks:{region}:000000000000:cluster/{option(argv, '--name')}"
        run.state["kube"].setdefault(context, new_cluster_state("eks"))
        run.state["current_context"] = context
        call.effect["switch_context"] = context
        return 0
    raise Unmodelled(" ".join(argv) or "no command")


def helm(run: Run, call: Call) -> int:
    raise Unmodelled(" ".join(call.argv) or "no command")


def sleep(run: Run, call: Call) -> int:
    try:
        seconds = sum(float(a.rstrip("s")) for a in call.argv)
    except ValueError as exc:
        raise Unmodelled(f"sleep {' '.join(call.argv)}") from exc
    slept = run.state.get("clock", 0) + seconds
    if slept > SLEEP_BUDGET:
        raise Failed(
            f"standin sleep: the script has waited {slept:g} s (fake time) in all: a wait the "
            f"stand-ins cannot end (more than {SLEEP_BUDGET:g} s); did what it waits for fail "
            "earlier?"
        )
    run.state["clock"] = slept
    call.nap = min(seconds, SLEEP_CAP)
    return 0


# --- python ($PY) -------------------------------------------------------------------------


def mlflow_reachable(run: Run, call: Call) -> None:
    """MLflow answers only through a live port-forward to svc/mlflow, at the tracking URI."""
    uri = call.env.get("MLFLOW_TRACKING_URI", "")
    match = re.fullmatch(r"http://(?:127\.0\.0\.1|localhost):(\d+)/?", uri)
    forward = run.forwards.get(int(match[1])) if match else None
    if not forward or (forward.namespace, forward.target) != ("mlflow", "svc/mlflow"):
        raise Failed(
            f"mlflow: MLflow is not reachable at MLFLOW_TRACKING_URI={uri or '(unset)'}: "
            "no port-forward to svc/mlflow there"
        )


def logged_in(run: Run, call: Call, user: str) -> None:
    name = call.env.get("MLFLOW_TRACKING_USERNAME", "")
    password = call.env.get("MLFLOW_TRACKING_PASSWORD", "")
    if user == "admin":
        expected = run.secret_value("mlflow", "mlflow-auth", "admin-password")
    else:
        expected = run.state["registry"]["users"].get(user)
    if name != user or not password or password != expected:
        raise Failed(
            f"mlflow: 401 Unauthorized: MLFLOW_TRACKING_USERNAME={name or '(unset)'} with a "
            f"password that is not {user}'s (expected user {user}, the password its Secret holds)"
        )


def python(run: Run, call: Call) -> int:
    argv = call.argv
    if argv[:1] == ["-m"] and len(argv) >= 2:
        module, args = argv[1], argv[2:]
        if module == "gitops" and args[:1] == ["inventory"]:
            call.out.append(run.inventory_answer(args))
            call.effect["inventory"] = " ".join(args[1:])
            return 0
        if module == "training.registry_access":
            return registry_access(run, call, args)
        if module == "training":
            return training(run, call, args)
        raise Unmodelled(f"-m {module} {' '.join(args)}")
    if argv[:1] == ["-c"] and len(argv) >= 2:
        code = argv[1]
        if "search_model_versions" in code and len(argv) == 3:
            mlflow_reachable(run, call)
            entry = run.state["registry"]["models"].get(argv[2])
            if not entry or not entry["versions"]:
                raise Failed(f"ValueError: max() arg is an empty sequence (no {argv[2]} versions)")
            call.effect["latest_version"] = {"model": argv[2], "version": str(entry["versions"])}
            call.out.append(f"{entry['versions']}\n")
            return 0
        if "get_model_version_by_alias" in code and len(argv) == 4:
            mlflow_reachable(run, call)
            model, alias = argv[2], argv[3]
            version = ((run.state["registry"]["models"].get(model) or {}).get("aliases") or {}).get(
                alias
            )
            if version is None:
                raise Failed(
                    f"mlflow.exceptions.RestException: RESOURCE_DOES_NOT_EXIST: Registered model "
                    f"alias {alias} not found on {model}"
                )
            call.effect["alias_version"] = {"model": model, "alias": alias, "version": version}
            call.out.append(f"{version}\n")
            return 0
        raise Unmodelled("-c code that uses mlflow: " + " ".join(code.split())[:160])
    raise Unmodelled(" ".join(argv)[:200] or "no arguments")


def registry_access(run: Run, call: Call, args: list[str]) -> int:
    user = option(args, "--username")
    if args[:1] == ["grant-read"] and user and option(args, "--model"):
        return grant_read(run, call, user, option(args, "--model"))
    if args[:1] == ["provision-tenant"] and option(args, "--models"):
        return provision_tenant(run, call, args)
    if args[:1] != ["ensure-user"] or not user:
        raise Unmodelled(f"-m training.registry_access {' '.join(args)}")
    mlflow_reachable(run, call)
    logged_in(run, call, "admin")
    password = call.env.get("REGISTRY_USER_PASSWORD", "")
    if not password:
        raise Failed("registry_access: REGISTRY_USER_PASSWORD is not set")
    run.state["registry"]["users"][user] = password
    call.effect["registry_user"] = user
    call.out.append(f"user {user}: ready\n")
    return 0


def grant_read(run: Run, call: Call, user: str, model: str) -> int:
    """`grant-read --username U --model M` as the admin: READ on the registered model (MLflow
    takes a grant by name, versions or not; training/registry_access.py grant_model_read)."""
    mlflow_reachable(run, call)
    logged_in(run, call, "admin")
    if user not in run.state["registry"]["users"]:
        raise Failed(f"registry_access: registry user {user!r} does not exist; create it first")
    run.grant_read(user, model)
    call.effect["granted_read"] = {"user": user, "model": model}
    call.out.append(f"READ on registered_model {model} for {user}: granted\n")
    return 0


def provision_tenant(run: Run, call: Call, args: list[str]) -> int:
    """`provision-tenant --models overlays/<c>/tenants/<t>/models.yaml` as the admin: READ for
    the tenant's service user and EDIT for its writer on every model the file declares
    (training/registry_access.py, provision_tenant). The real command creates the model names
    and refuses a grant to a user that does not exist (MLflow answers 404)."""
    mlflow_reachable(run, call)
    logged_in(run, call, "admin")
    path = Path(call.path(option(args, "--models")))
    tenant = option(args, "--tenant") or path.parent.name
    try:
        declaration = read_declaration(path.parent)
    except (ModelsError, OSError) as exc:
        raise Failed(f"error: {path}: {exc}", 2) from exc
    judge = option(args, "--judge-user", "rollout-judge")
    needed = [tenant, f"{tenant}-trainer", "trainer", *([judge] if judge else [])]
    users = run.state["registry"]["users"]
    missing = [u for u in needed if u not in users]
    if missing:
        raise Failed(
            f"error: registry user {missing[0]!r} does not exist, so it cannot be granted on "
            f"{tenant}'s models: create it first (ensure-user) (HTTP 404)",
            2,
        )
    models = run.state["registry"]["models"]
    for model in declaration.names:
        models.setdefault(model, {"versions": 0, "aliases": {}})
        run.grant_read(tenant, model)
        run.grant_edit(f"{tenant}-trainer", model)
    call.effect["provisioned"] = {"tenant": tenant, "models": list(declaration.names)}
    call.out.append(
        "".join(f"READ on registered_model {m} for {tenant}: granted\n" for m in declaration.names)
    )
    return 0


def seed_examples(run: Run, call: Call, args: list[str]) -> int:
    """`seed-examples --cluster C [--tenant T]`, logged in as `<T>-trainer`: each declared
    model of training/examples/examples.yaml whose alias is unset gets a version (the first
    run registers one, later ones reuse it) and its alias; EDIT on the model is needed."""
    cluster, only = option(args, "--cluster"), option(args, "--tenant")
    if not cluster:
        raise Failed("usage: python -m training seed-examples: --cluster is required", 2)
    mlflow_reachable(run, call)
    user = call.env.get("MLFLOW_TRACKING_USERNAME", "")
    if only:
        logged_in(run, call, f"{only}-trainer")
    else:
        logged_in(run, call, user or "trainer")
    examples = run.examples()
    models = run.state["registry"]["models"]
    writers = run.state["registry"].setdefault("writers", {})
    seeded = {}
    for tenant, declared in run.tenant_models(cluster).items():
        if only and tenant != only:
            continue
        for model, served in declared:
            if examples.get(model) != tenant or served.isdigit():
                continue
            entry = models.setdefault(model, {"versions": 0, "aliases": {}})
            if served in entry["aliases"]:
                continue
            if user not in writers.get(model, []) and user != "trainer":
                raise Failed(
                    f"mlflow: 403 PERMISSION_DENIED: user {user!r} may not write {model}: "
                    f"provision-tenant grants {tenant}-trainer EDIT on the models {tenant} "
                    "declares",
                )
            version = entry.get("example_version")
            if version is None:
                entry["versions"] += 1
                version = entry["example_version"] = str(entry["versions"])
            entry["aliases"][served] = version
            seeded[model] = f"{model}@{served} = version {version}"
    call.effect["seeded_examples"] = seeded
    call.out.append("".join(f"{m}: {s}, registered by its example\n" for m, s in seeded.items()))
    return 0


def training(run: Run, call: Call, args: list[str]) -> int:
    models = run.state["registry"]["models"]
    if args[:1] == ["seed"]:
        cluster = option(args, "--cluster")
        if not cluster:
            raise Failed("usage: python -m training seed: --cluster is required", 2)
        mlflow_reachable(run, call)
        logged_in(run, call, "trainer")
        catalog = run.catalog()
        seeded, skipped = {}, {}
        for tenant, declared in run.tenant_models(cluster).items():
            for model, served in declared:
                entry = models.setdefault(model, {"versions": 0, "aliases": {}})
                if served.isdigit() or served in entry["aliases"]:
                    continue
                if catalog.get(tenant) != model:  # seed trains only the catalog's models
                    skipped[model] = "not in training/tenants.yaml: register a version yourself"
                    continue
                entry["versions"] += 1
                entry["aliases"][served] = str(entry["versions"])
                run.grant_read(tenant, model)  # training grants the tenant READ on it
                seeded[model] = f"{model}@{served} = version {entry['versions']}"
        run.state["registry"]["seeded"] = True
        call.effect["seeded"] = seeded
        if skipped:
            call.effect["skipped"] = skipped
        call.out.append("".join(f"{m}: {s}, trained and promoted\n" for m, s in seeded.items()))
        call.out.append("".join(f"{m}: skipped, {why}\n" for m, why in skipped.items()))
        return 0
    if args[:1] == ["seed-examples"]:
        return seed_examples(run, call, args)
    if args[:1] == ["train"]:
        tenant = option(args, "--tenant")
        mlflow_reachable(run, call)
        logged_in(run, call, "trainer")
        model = run.catalog().get(tenant, "")
        if not model:
            raise Failed(f"training: unknown tenant {tenant!r}", 2)
        entry = models.setdefault(model, {"versions": 0, "aliases": {}})
        entry["versions"] += 1
        run.grant_read(tenant, model)
        call.effect["trained"] = {"model": model, "version": str(entry["versions"])}
        call.out.append(f"registered {model} version {entry['versions']}\n")
        return 0
    if args[:1] == ["promote"]:
        model, version, alias = (option(args, f) for f in ("--model", "--version", "--alias"))
        mlflow_reachable(run, call)
        logged_in(run, call, "trainer")
        entry = models.get(model)
        if entry is None or not version.isdigit() or not 0 < int(version) <= entry["versions"]:
            raise Failed(f"promote: {model} has no version {version!r}")
        entry["aliases"][alias] = version
        call.effect["promoted"] = {"model": model, "version": version, "alias": alias}
        call.out.append(f"{model}@{alias} -> version {version}\n")
        return 0
    raise Unmodelled(f"-m training {' '.join(args)}")


PROGRAMS: dict[str, Callable[[Run, Call], int]] = {
    "kubectl": kubectl,
    "kind": kind,
    "docker": docker,
    "eksctl": eksctl,
    "aws": aws,
    "helm": helm,
    "sleep": sleep,
    "python": python,
}


# --- serving standin.bash -----------------------------------------------------------------


def calling_script(ppid: str) -> str:
    """The bash script behind a call (a subshell keeps its parent's command line)."""
    try:
        words = Path(f"/proc/{int(ppid)}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return ""
    for word in words[1:]:
        text = word.decode(errors="replace")
        if text.endswith(".sh"):
            cut = text.rfind("clusters/")
            return text[cut:] if cut >= 0 else text
    return ""


class _Request(socketserver.BaseRequestHandler):
    server: Server

    def handle(self) -> None:
        self.buffer = b""
        try:
            call = self.read_call()
        except (EOFError, ValueError, OSError):
            return
        if call is None:
            return
        run = self.server.run
        rc = run.handle(call)
        if call.nap:
            time.sleep(call.nap)
        out = "".join(call.out).encode("ascii", "backslashreplace")
        err = "".join(call.err).encode("ascii", "backslashreplace")
        status = "wait" if call.wait and rc == 0 else str(rc)
        self.request.sendall(f"{status} {len(out)} {len(err)}\n".encode() + out + err)
        if status == "wait":
            self.wait_until_killed(run, call)

    def wait_until_killed(self, run: Run, call: Call) -> None:
        """The port-forward lives until its stand-in is killed or the run ends."""
        port = int(call.effect["port_forward"]["local"])
        self.request.settimeout(0.2)
        while not run.closed.is_set():
            try:
                if not self.request.recv(1):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        forward = run.forwards.get(port)  # stopped without the lock: see port_forward
        if forward:
            forward.stop()
            with run.lock:
                if run.forwards.get(port) is forward:
                    del run.forwards[port]

    def field(self) -> str:
        while b"\0" not in self.buffer:
            chunk = self.request.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        value, _, self.buffer = self.buffer.partition(b"\0")
        return value.decode("utf-8", "replace")

    def read_call(self) -> Call | None:
        if self.field() != self.server.token:
            return None
        program, cwd, ppid = self.field(), self.field(), self.field()
        variables = dict(self.field().partition("=")[::2] for _ in range(int(self.field())))
        argv = [self.field() for _ in range(int(self.field()))]
        length = int(self.field())
        while len(self.buffer) < length:
            chunk = self.request.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        stdin = self.buffer[:length].decode("utf-8", "replace")
        return Call(program, argv, cwd, calling_script(ppid), variables, stdin)


class Server(socketserver.ThreadingTCPServer):
    """Serves one Run to the stand-ins on 127.0.0.1 (an ephemeral port)."""

    daemon_threads = True

    def __init__(self, run: Run) -> None:
        super().__init__(("127.0.0.1", 0), _Request)
        self.run = run
        self.token = binascii.hexlify(os.urandom(16)).decode()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.run.close()
        self.shutdown()
        self.server_close()
