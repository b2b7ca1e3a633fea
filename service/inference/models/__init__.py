"""One model version, from the registry to a callable: resolve and download it (registry.py),
read its folder (model_folder.py), load it into a runtime (sklearn_model.py, onnx_model.py)
behind what every runtime shares (model.py), with its input schema (schema.py) and its drift
reference (version_drift.py); loader.py puts these together and self-checks the result."""
