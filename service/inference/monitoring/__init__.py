"""What the service exports to Prometheus: its own metrics (metrics.py), a rollout's metrics
by role (rollout_metrics.py) and the drift counts of every served version (drift.py)."""
