"""The Pod Security Standards (https://kubernetes.io/docs/concepts/security/pod-security-standards/)
for a pod template: what the "restricted" level refuses (which includes everything "baseline"
refuses), and this platform's own rule for tenant containers (a read-only root filesystem).

Shared by the `pod-security` check (every template of the tree) and the sync simulation
(Pod Security admission, per namespace `pod-security.kubernetes.io/enforce` level).
"""

from __future__ import annotations

from typing import Any

from gitops.tree.findings import annotations_of

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


def enforced_violations(template: dict[str, Any], level: str) -> list[tuple[str, str]]:
    """What Pod Security admission refuses at a namespace's `enforce` level. "privileged" (and
    no label: the API server's default) admits everything; "baseline" is checked as
    "restricted", a stricter superset: no namespace of this tree enforces baseline."""
    if level in ("", "privileged"):
        return []
    return restricted_violations(template)
