"""The built-in HorizontalPodAutoscaler check, ported from
gitops-engine/pkg/health/health_hpa.go at argoproj/argo-cd v3.5.1: autoscaling/v2 reads
status.conditions, autoscaling/v1 the conditions annotation the API server writes for it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from gitops.simulation.health.builtin.typed import BuiltinError, Typed, converted
from gitops.simulation.health.gojson import field_for
from gitops.simulation.health.status import Health, HealthStatus

CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
_WAITING = Health(HealthStatus.PROGRESSING, "Waiting to Autoscale")
# health_hpa.go isDegraded: (type, reason) pairs that mean the HPA cannot scale.
_DEGRADED = {
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "FailedGetObjectMetric"),
    ("ScalingActive", "FailedGetPodsMetric"),
    ("ScalingActive", "FailedGetExternalMetric"),
    ("ScalingActive", "FailedComputeMetricsReplicas"),
    ("ScalingActive", "InvalidSelector"),
}
# hpaCondition's fields, untagged, so encoding/json matches them case-insensitively.
_CONDITION_FIELDS = ("type", "reason", "message", "status")
# health_hpa.go isHealthy: condition types that mean Healthy when "True".
_HEALTHY_TYPES = ("AbleToScale", "ScalingLimited")


@dataclass(frozen=True)
class _Condition:
    type: str
    reason: str
    message: str
    status: str


@converted("HPA", "autoscaling/v1", "autoscaling/v2")
def horizontal_pod_autoscaler(hpa: Typed, version: str) -> Health:
    """getHPAHealth: v2 -> its status conditions; v1 -> the annotation's, Progressing
    ("Waiting to Autoscale") without it or with none in it."""
    if version == "v2":
        conditions = [
            _Condition(c.text("type"), c.text("reason"), c.text("message"), c.text("status"))
            for c in hpa.child("status").items("conditions")
        ]
        return _judge(conditions)
    annotations = hpa.child("metadata").strings("annotations")
    if CONDITIONS_ANNOTATION not in annotations:
        return _WAITING
    conditions = _annotation_conditions(annotations[CONDITIONS_ANNOTATION])
    return _judge(conditions) if conditions else _WAITING


def _judge(conditions: list[_Condition]) -> Health:
    """checkConditions: any degraded (type, reason) first, then any healthy type "True"."""
    for condition in conditions:
        if (condition.type, condition.reason) in _DEGRADED:
            return Health(HealthStatus.DEGRADED, condition.message)
    for condition in conditions:
        if condition.type in _HEALTHY_TYPES and condition.status == "True":
            return Health(HealthStatus.HEALTHY, condition.message)
    return _WAITING


def _annotation_conditions(text: str) -> list[_Condition]:
    """json.Unmarshal of the annotation into []hpaCondition: a JSON array (or null) of objects
    whose keys match the untagged fields Type, Reason, Message, Status case-insensitively.
    Anything else fails as Argo CD fails ("failed to convert conditions annotation to typed:
    ..."; the text after the prefix is this model's, not Go's)."""
    try:
        parsed = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise _annotation_error(str(exc)) from exc
    if parsed is None:
        return []
    if not isinstance(parsed, list):
        raise _annotation_error("expected a JSON array of conditions")
    return [_annotation_condition(item) for item in parsed]


def _annotation_condition(item: object) -> _Condition:
    if item is None:
        return _Condition("", "", "", "")
    if not isinstance(item, Mapping):
        raise _annotation_error("expected a JSON object for each condition")
    fields = dict.fromkeys(_CONDITION_FIELDS, "")
    for key, value in item.items():
        field = field_for(key, _CONDITION_FIELDS)
        if field is None or value is None:
            continue
        if not isinstance(value, str):
            raise _annotation_error(f"hpaCondition.{field}: expected a string")
        fields[field] = value
    return _Condition(**fields)


def _annotation_error(detail: str) -> BuiltinError:
    return BuiltinError(f"failed to convert conditions annotation to typed: {detail}")


def _reject_constant(name: str) -> None:
    # Go's encoding/json has no NaN or Infinity.
    raise ValueError(f"invalid JSON constant {name}")
