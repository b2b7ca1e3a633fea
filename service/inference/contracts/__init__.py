"""Formats the service shares with the repository's other packages: MODEL_URI (model_uri.py)
and what the service reads of the tenant's mounted rollout policy (mounted_policy.py).
Nothing here imports the rest of the service, so training and gitops may import it."""
