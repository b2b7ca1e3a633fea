"""Read a downloaded MLflow model folder without mlflow: MLmodel, signature, example, and
the model itself, as an ONNX file or a pickle.

The folder layout is MLflow's documented model format: an `MLmodel` YAML file whose
`flavors.sklearn` section names the pickled estimator and how it was serialized, whose
`signature.inputs` is a JSON list of column specs, and whose `saved_input_example_info`
points at the input example (pandas "split" or "records" JSON). A version whose ONNX export
passed training's equivalence gate also has an `onnx` flavor (its `data` file) and
`metadata.onnx` describing it (see onnx_model).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import yaml

from inference.models.model import ModelCheckError
from inference.models.schema import InputSchema

_PICKLE_FORMATS = ("cloudpickle", "pickle")


def onnx_metadata(meta: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(the ONNX file, metadata.onnx) when the version carries an ONNX model that passed
    training's equivalence gate; None otherwise (no flavor, or a failed or skipped gate)."""
    flavor = (meta.get("flavors") or {}).get("onnx")
    described = (meta.get("metadata") or {}).get("onnx")
    if not isinstance(flavor, dict) or not isinstance(described, dict):
        return None
    if described.get("outcome") != "passed" or not flavor.get("data"):
        return None
    return str(flavor["data"]), described


# What the loader asks for on a pickle-free tenant: onnx, or a refusal that says why.
PICKLE_FREE = "pickle-free"


def chosen_runtime(meta: dict[str, Any], wanted: str) -> str:
    """`onnx` when the version has a gated ONNX model and `wanted` allows it, else `sklearn`."""
    onnx = onnx_metadata(meta) is not None
    if wanted == PICKLE_FREE and not onnx:
        raise ModelCheckError(
            "this tenant is pickle-free (pickleFree in its models.yaml): its pods serve only "
            "versions with an ONNX model that passed training's gate, and never unpickle; "
            "this version has none"
        )
    if wanted == "onnx" and not onnx:
        raise ModelCheckError("MODEL_RUNTIME=onnx, but this version has no ONNX model that passed")
    return "onnx" if onnx and wanted != "sklearn" else "sklearn"  # PICKLE_FREE: onnx


def drift_reference_file(meta: dict[str, Any]) -> str | None:
    """The file holding the version's drift reference (training/lifecycle/reference_stats.py),
    named by MLmodel's `metadata.drift_reference.file`; None for a version without one. Only a
    plain file name of the folder is accepted."""
    described = (meta.get("metadata") or {}).get("drift_reference")
    name = described.get("file") if isinstance(described, dict) else None
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    return name


def needed_files(meta: dict[str, Any], runtime: str) -> list[str]:
    """The files of the folder a runtime reads: the input example and its model file."""
    files = []
    example = (meta.get("saved_input_example_info") or {}).get("artifact_path")
    if example:
        files.append(str(example))
    if runtime == "onnx":
        found = onnx_metadata(meta)
        assert found is not None
        files.append(found[0])
    else:
        files.append(str(sklearn_flavor(meta).get("pickled_model", "model.pkl")))
    return files


def read_model_dir(path: Path) -> tuple[Any, InputSchema, list[list[Any]]]:
    """Load estimator, input schema and input example from a downloaded MLflow model folder."""
    meta = read_mlmodel(path)
    flavor = sklearn_flavor(meta)
    schema = read_schema(meta)
    rows = read_input_example(path, meta, schema)
    estimator = load_estimator(path, flavor)
    return estimator, schema, rows


def read_mlmodel(path: Path) -> dict[str, Any]:
    try:
        meta = yaml.safe_load((path / "MLmodel").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelCheckError("the model folder has no MLmodel file") from None
    except yaml.YAMLError as exc:
        raise ModelCheckError(f"MLmodel is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(meta, dict):
        raise ModelCheckError("MLmodel is not a mapping")
    return meta


def sklearn_flavor(meta: dict[str, Any]) -> dict[str, Any]:
    flavors = meta.get("flavors") or {}
    if "sklearn" not in flavors:
        raise ModelCheckError(f"not a scikit-learn model (flavors: {sorted(flavors)})")
    return flavors["sklearn"] or {}


def read_schema(meta: dict[str, Any]) -> InputSchema:
    inputs = (meta.get("signature") or {}).get("inputs")
    if not inputs:
        raise ModelCheckError("the model has no signature: log it with one")
    try:
        specs = json.loads(inputs) if isinstance(inputs, str) else inputs
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise ValueError(f"the model's signature inputs must be a list of columns: {inputs}")
        return InputSchema.from_signature_inputs(specs)
    except ValueError as exc:
        raise ModelCheckError(str(exc)) from exc


def read_input_example(path: Path, meta: dict[str, Any], schema: InputSchema) -> list[list[Any]]:
    """The example as rows in the schema's column order."""
    info = meta.get("saved_input_example_info") or {}
    if not info.get("artifact_path"):
        raise ModelCheckError("the model has no input example: log it with one")
    try:
        saved = json.loads((path / info["artifact_path"]).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelCheckError(f"cannot read the input example: {exc}") from None
    kind, orient = info.get("type"), info.get("pandas_orient", "split")
    if kind == "dataframe" and orient == "split" and isinstance(saved, dict):
        columns, data = saved.get("columns"), saved.get("data") or []
        records = [dict(zip(columns, row, strict=False)) for row in data] if columns else None
        if records is None:  # unnamed columns: already in signature order
            return [list(row) for row in data]
    elif kind == "dataframe" and orient == "records" and isinstance(saved, list):
        records = saved
    elif kind == "ndarray" and isinstance(saved, dict) and isinstance(saved.get("inputs"), list):
        return [list(row) for row in saved["inputs"]]
    else:
        raise ModelCheckError(
            f"unsupported input example (type {kind!r}, orient {orient!r}): "
            "log a pandas DataFrame as input example"
        )
    missing = sorted({n for n in schema.names for r in records if n not in r})
    if missing:
        raise ModelCheckError(f"input example lacks signature columns {missing}")
    return [[record[n] for n in schema.names] for record in records]


def load_estimator(path: Path, flavor: dict[str, Any]) -> Any:
    file = path / str(flavor.get("pickled_model", "model.pkl"))
    fmt = flavor.get("serialization_format", "cloudpickle")
    if fmt == "skops":
        return _load_skops(file, flavor)
    if fmt not in _PICKLE_FORMATS:
        raise ModelCheckError(f"unknown serialization_format {fmt!r} in MLmodel")
    import_sklearn()
    # A cloudpickle file is a pickle whose by-value parts name cloudpickle's helpers; pickle
    # imports them on demand, so plain pickle.load reads both formats.
    with file.open("rb") as stream:
        return pickle.load(stream)  # noqa: S301  # the tenant's own registered model


def _load_skops(file: Path, flavor: dict[str, Any]) -> Any:
    try:
        import skops.io
    except ImportError:
        raise ModelCheckError(
            "the model is serialized with skops, which this service does not include: "
            "log it with serialization_format='cloudpickle'"
        ) from None
    import_sklearn()
    return skops.io.load(file, trusted=flavor.get("skops_trusted_types") or [])


def import_sklearn() -> None:
    """Import scikit-learn, the largest start-up cost: unpickling any model needs it. The loader
    calls this while the download child runs, so the two overlap."""
    import sklearn.base  # noqa: F401
