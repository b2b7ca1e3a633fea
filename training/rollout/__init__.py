"""Progressive delivery of model versions: the policy, the registry protocol and the judge.

Standard library only, with relative imports: the judge's image copies this package alone
(training/rollout/Dockerfile), so nothing here may import mlflow, the training package or a
third-party library. The CLI commands that need more live in training/rollout_cli.py.
"""
