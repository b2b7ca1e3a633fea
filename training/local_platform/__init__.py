"""The local platform behind `make up` (`python -m training up`, up.py): an MLflow server
(registry_server.py), one inference service per tenant (inference_services.py), Prometheus
(prometheus_server.py) and the rollout judge (rollout_judge.py), each a child process in its
own process group (processes.py) on a loopback port checked first (ports.py)."""
