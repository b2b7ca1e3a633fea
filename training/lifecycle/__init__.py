"""The model lifecycle: what a tenant's model is (catalog.py: tenants.yaml; datasets.py,
estimators.py), training and registering a version (train.py, with its ONNX copy:
onnx_export.py, onnx_flavor.py; its drift reference: reference_stats.py; its input example:
input_examples.py; who and which code: provenance.py), scoring it (evaluate.py), the gate and
alias moves (gate.py, promote.py, aliases.py), what each cluster serves (overlays.py, pin.py,
seed.py), and the registry as these read it (registry.py, status.py)."""
