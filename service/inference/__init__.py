"""Multi-tenant inference service: serves one tenant's model from the MLflow registry."""
