"""Formats the service shares with the repository's other packages: MODEL_URI (model_uri.py),
the tenant's rollout policy (rollout_policy.py, the schema, whose copy the judge carries) and
what the service reads of the mounted policy file (mounted_policy.py). Nothing here imports the
rest of the service, so training and gitops may import it."""
