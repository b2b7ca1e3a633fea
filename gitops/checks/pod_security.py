"""`pod-security`: Pod Security Standards "restricted" (as documented by Kubernetes) for
every pod template, plus readOnlyRootFilesystem for tenant containers (a requirement of this
platform)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gitops.checks import Context, register
from gitops.settings import UPSTREAM_NAMESPACES
from gitops.tree.findings import Finding, annotations_of, namespace_of, obj_ref
from gitops.tree.selectors import pod_template

CHECK = "pod-security"

# Restricted: only these volume sources (plus the volume's name).
ALLOWED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
# Baseline: the "safe" sysctl set.
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
SECCOMP_OK = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_OK = frozenset({"RuntimeDefault", "Localhost"})


@register(
    CHECK,
    "pod templates meet Pod Security restricted (+ read-only root for tenants)",
    order=80,
    generic=True,
)
def check(ctx: Context) -> Iterator[Finding]:
    for where, objects in ctx.outputs:
        yield from check_objects(objects, where, UPSTREAM_NAMESPACES, ctx.all_tenants)


def check_objects(
    objects: list[dict[str, Any]],
    where: str,
    exempt_namespaces: frozenset[str],
    tenant_namespaces: frozenset[str],
) -> list[Finding]:
    findings = []
    for obj in objects:
        template = pod_template(obj) if isinstance(obj, dict) else None
        if template is None or namespace_of(obj) in exempt_namespaces:
            continue
        problems = restricted_violations(template)
        if namespace_of(obj) in tenant_namespaces:
            problems += read_only_root_violations(template)
        findings += [
            Finding(CHECK, where, obj_ref(obj), problem, expected) for problem, expected in problems
        ]
    return findings


def restricted_violations(template: dict[str, Any]) -> list[tuple[str, str]]:
    spec = template.get("spec") or {}
    pod_sc = spec.get("securityContext") or {}
    out: list[tuple[str, str]] = []

    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            out.append((f"spec.{field} is true", f"{field} unset or false"))
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        out.append(("securityContext.windowsOptions.hostProcess is true", "unset or false"))
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            out.append(
                (
                    f"volume {volume.get('name')!r} is of type {sorted(kinds - ALLOWED_VOLUMES)}",
                    f"one of {sorted(ALLOWED_VOLUMES)} (no hostPath)",
                )
            )
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append((f"unsafe sysctl {sysctl.get('name')!r}", "only the safe sysctl set"))
    out += _selinux("securityContext", pod_sc)
    out += _apparmor("securityContext", pod_sc)
    for key, value in annotations_of(template).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            out.append((f"annotation {key}={value}", "runtime/default or localhost/*"))
    if pod_sc.get("runAsUser") == 0:
        out.append(("securityContext.runAsUser is 0", "a non-zero UID"))
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_OK:
        out.append((f"securityContext.seccompProfile.type is {pod_seccomp}", "RuntimeDefault"))

    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(kind) or []:
            out += _container(kind, container, pod_sc)
    return out


def _container(
    kind: str, container: dict[str, Any], pod_sc: dict[str, Any]
) -> list[tuple[str, str]]:
    where = f"{kind}[{container.get('name')}]"
    sc = container.get("securityContext") or {}
    out: list[tuple[str, str]] = []
    if sc.get("privileged"):
        out.append((f"{where}: securityContext.privileged is true", "unset or false"))
    if (sc.get("windowsOptions") or {}).get("hostProcess"):
        out.append((f"{where}: windowsOptions.hostProcess is true", "unset or false"))
    for port in container.get("ports") or []:
        if port.get("hostPort"):
            out.append((f"{where}: hostPort {port['hostPort']}", "no hostPort"))
    if sc.get("procMount", "Default") != "Default":
        out.append((f"{where}: procMount is {sc['procMount']}", "Default"))
    out += _selinux(f"{where}: securityContext", sc)
    out += _apparmor(f"{where}: securityContext", sc)
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append((f"{where}: allowPrivilegeEscalation is not false", "false"))
    run_as_non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if run_as_non_root is not True:
        out.append((f"{where}: runAsNonRoot is not true (container or pod)", "true"))
    if sc.get("runAsUser") == 0:
        out.append((f"{where}: runAsUser is 0", "a non-zero UID"))
    seccomp = (sc.get("seccompProfile") or {}).get("type") or (
        pod_sc.get("seccompProfile") or {}
    ).get("type")
    if seccomp not in SECCOMP_OK:
        out.append(
            (
                f"{where}: seccompProfile.type is {seccomp} (container or pod)",
                "RuntimeDefault or Localhost",
            )
        )
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        out.append((f"{where}: capabilities.drop does not contain ALL", "drop: [ALL]"))
    added = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
    if added:
        out.append((f"{where}: capabilities.add {sorted(added)}", "only NET_BIND_SERVICE"))
    return out


def _selinux(where: str, sc: dict[str, Any]) -> list[tuple[str, str]]:
    options = sc.get("seLinuxOptions") or {}
    out = []
    if options.get("type", "") not in SELINUX_TYPES:
        out.append((f"{where}.seLinuxOptions.type is {options['type']}", "a container_* type"))
    for field in ("user", "role"):
        if options.get(field):
            out.append((f"{where}.seLinuxOptions.{field} is set", "unset"))
    return out


def _apparmor(where: str, sc: dict[str, Any]) -> list[tuple[str, str]]:
    kind = (sc.get("appArmorProfile") or {}).get("type")
    if kind is not None and kind not in APPARMOR_OK:
        return [(f"{where}.appArmorProfile.type is {kind}", "RuntimeDefault or Localhost")]
    return []


def read_only_root_violations(template: dict[str, Any]) -> list[tuple[str, str]]:
    spec = template.get("spec") or {}
    return [
        (
            f"{kind}[{c.get('name')}]: readOnlyRootFilesystem is not true",
            "true for tenant containers (platform requirement; mount emptyDir where it writes)",
        )
        for kind in ("initContainers", "containers")
        for c in spec.get(kind) or []
        if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True
    ]
