"""Multi-tenant inference service: serves a tenant's models from the MLflow registry.

Commands on top (`python -m inference`, `python -m inference.fetch`) with the settings; then,
each importing only the groups below it: api/ (HTTP), rollout/ (candidate, routing, shadow),
serving/ (swap, batching), monitoring/ (metrics, drift), models/ (registry to runtime), and
contracts/ (formats shared with training and gitops). pyproject.toml checks the order.
"""
