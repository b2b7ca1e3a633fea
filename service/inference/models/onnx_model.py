"""The ONNX runtime: the version's `model.onnx`, converted at training and kept only if it
gave the same answers as the scikit-learn pipeline (training/lifecycle/onnx_export.py), run with
onnxruntime. scikit-learn is never imported: a one-row call costs microseconds instead of
milliseconds, and the process is a third of the size.

What the version says about its ONNX model is MLmodel's `metadata.onnx`: the input tensor
(name, float32, the signature's columns in order), the label and probability outputs, the
classes in probability order, and the outputs the converted model gave on the input example
at training, which the self-check here must reproduce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inference.models.model import ModelCheckError, Prediction, ServedModel

# The largest probability difference the self-check accepts from the values recorded at
# training: the same model in the same runtime; only a different CPU's float32 rounding.
SELF_CHECK_TOLERANCE = 1e-5
_DTYPES = {"float32": np.float32, "float64": np.float64, "float": np.float32, "double": np.float64}
# The same input types as tensor datatypes (number_ranges): a number beyond FP32 is refused,
# never fed to a float32 model as infinity.
_DATATYPES = {"float32": "FP32", "float64": "FP64", "float": "FP32", "double": "FP64"}


@dataclass(frozen=True)
class OnnxSpec:
    """metadata.onnx of a version whose ONNX model passed the equivalence gate."""

    file: Path
    input_name: str
    input_type: str
    columns: list[str]
    label_output: str
    probability_output: str | None
    classes: list[Any] | None
    expected_labels: list[Any]
    expected_probabilities: list[list[float]] | None

    @classmethod
    def from_metadata(cls, folder: Path, data_file: str, meta: dict[str, Any]) -> OnnxSpec:
        try:
            inputs, outputs, expected = meta["input"], meta["outputs"], meta["expected"]
            return cls(
                file=folder / data_file,
                input_name=str(inputs["name"]),
                input_type=str(inputs.get("type", "float32")),
                columns=[str(c) for c in inputs["columns"]],
                label_output=str(outputs["label"]),
                probability_output=outputs.get("probabilities"),
                classes=meta.get("classes"),
                expected_labels=list(expected["labels"]),
                expected_probabilities=expected.get("probabilities"),
            )
        except (KeyError, TypeError) as exc:
            raise ModelCheckError(f"MLmodel metadata.onnx is incomplete: {exc}") from None


def _session_options() -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    # No busy-waiting between calls: on a small node the event loop needs that CPU.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def new_session(file: Path) -> Any:
    """An onnxruntime session on one thread: the service's concurrency is its requests."""
    import onnxruntime

    try:
        return onnxruntime.InferenceSession(
            str(file), sess_options=_session_options(), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise ModelCheckError(f"onnxruntime cannot load {file.name}: {exc}") from exc


def _field(number: int, value: int | bytes | str) -> bytes:
    """One protobuf field: a varint, or a length-delimited string or message."""

    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(out)

    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def identity_model() -> bytes:
    """The smallest ONNX model: y = Identity(x), x a float32 [1]. Field numbers are
    onnx/onnx v1.23.2's onnx/onnx.proto: ModelProto ir_version 1, graph 7, opset_import 8;
    GraphProto node 1, name 2, input 11, output 12; NodeProto input 1, output 2, op_type 4;
    ValueInfoProto name 1, type 2; TypeProto tensor_type 1; Tensor elem_type 1 (FLOAT = 1),
    shape 2; TensorShapeProto dim 1; Dimension dim_value 1; OperatorSetIdProto domain 1,
    version 2."""
    shape = _field(2, _field(1, _field(1, 1)))  # [1]
    tensor = _field(1, _field(1, 1) + shape)  # float32
    graph = (
        _field(1, _field(1, "x") + _field(2, "y") + _field(4, "Identity"))
        + _field(2, "warm")
        + _field(11, _field(1, "x") + _field(2, tensor))
        + _field(12, _field(1, "y") + _field(2, tensor))
    )
    return _field(1, 8) + _field(7, graph) + _field(8, _field(1, "") + _field(2, 13))


_warmed = False


def warm_up() -> None:
    """Create and run one session of the identity model, once per process: onnxruntime's
    first session sets up what every later one shares (about 10 MiB measured here, against
    0.2 MiB for an iris model's own session), which is the runtime's cost, not a version's."""
    global _warmed
    if _warmed:
        return
    import onnxruntime

    session = onnxruntime.InferenceSession(
        identity_model(), sess_options=_session_options(), providers=["CPUExecutionProvider"]
    )
    session.run(None, {"x": np.zeros(1, dtype=np.float32)})
    _warmed = True


@dataclass
class OnnxModel(ServedModel):
    spec: OnnxSpec | None = None
    session: Any = field(default=None, repr=False)
    _outputs: list[str] = field(default_factory=list, repr=False)
    _dtype: Any = field(default=np.float32, repr=False)
    _run: Any = field(default=None, repr=False)

    runtime = "onnx"

    def predict(self, rows: list[list[Any]]) -> Prediction:
        assert self.spec is not None
        features = np.asarray(rows, dtype=self._dtype)
        results = self._run(self._outputs, {self.spec.input_name: features}, None)
        labels = results[0].tolist()
        probabilities = results[1].tolist() if len(results) > 1 else None
        return Prediction(labels, probabilities)

    def _check(self) -> None:
        spec = self.spec
        assert spec is not None
        if spec.columns != self.schema.names:
            raise ModelCheckError(
                f"the ONNX input's columns {spec.columns} are not the signature's "
                f"{self.schema.names}"
            )
        if not self.schema.all_numeric:
            raise ModelCheckError("an ONNX model here takes numeric columns only")
        if spec.input_type not in _DTYPES:
            raise ModelCheckError(f"unsupported ONNX input type {spec.input_type!r}")
        self._dtype = _DTYPES[spec.input_type]
        self.model_float = _DATATYPES[spec.input_type]
        if self.session is None:
            self.session = new_session(spec.file)
        # InferenceSession.run checks the input names, graph capture and OrtValue ownership on
        # every call, then calls its C++ session's run with the same arguments
        # (microsoft/onnxruntime v1.32.0, onnxruntime/python/onnxruntime_inference_collection.py):
        # a few microseconds a call, for an input this class builds itself, always a float
        # array under the one input name the self-check below runs. The public run is the
        # fallback should a release not have the C++ session there.
        self._run = getattr(self.session, "_sess", self.session).run
        self._outputs = [spec.label_output]
        if spec.probability_output:
            self._outputs.append(spec.probability_output)
        self.classes = spec.classes if spec.probability_output else None
        try:
            result = self.predict(self.input_example)
        except Exception as exc:
            raise ModelCheckError(f"the ONNX model failed on the input example: {exc}") from exc
        if result.labels != spec.expected_labels:
            raise ModelCheckError(
                f"the ONNX model's labels on the input example {result.labels} are not the "
                f"ones recorded at training {spec.expected_labels}"
            )
        if spec.expected_probabilities is not None and result.probabilities is not None:
            worst = float(
                np.max(
                    np.abs(np.asarray(result.probabilities) - spec.expected_probabilities),
                    initial=0.0,
                )
            )
            if worst > SELF_CHECK_TOLERANCE:
                raise ModelCheckError(
                    f"the ONNX model's probabilities on the input example differ by {worst:.3g} "
                    f"from the ones recorded at training (at most {SELF_CHECK_TOLERANCE:g})"
                )
