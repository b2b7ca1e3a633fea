"""Train, evaluate, register, promote and roll back the tenants' models (MLflow registry)."""
