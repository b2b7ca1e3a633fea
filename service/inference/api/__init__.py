"""The HTTP API: the FastAPI app (app.py) and the request dialects it accepts: the service's
own /predict and MLflow's /invocations (payloads.py), the Open Inference Protocol v2 (v2.py),
and the OpenAPI document built from the served signature (openapi_doc.py)."""
