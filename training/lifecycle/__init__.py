"""The model lifecycle: what a tenant's model is (catalog.py: tenants.yaml; datasets.py,
estimators.py), training and registering a version (train.py, with its ONNX copy:
onnx_export.py, onnx_flavor.py; its drift reference: reference_stats.py; its input example:
input_examples.py; who and which code: provenance.py), registering one a team logged with its
own code (register.py, against the contract of team_contract.py: team_model.py, team_sample.py,
team_onnx.py, service_check.py), scoring it (evaluate.py), the gate and
alias moves (gate.py, promote.py, aliases.py), what each cluster serves (overlays.py, pin.py,
seed.py), and the registry as these read it (registry.py, status.py)."""
