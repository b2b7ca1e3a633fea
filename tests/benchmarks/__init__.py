"""`python -m tests.benchmarks`: this service against `mlflow models serve` and MLServer, in
one run.

Not a test suite: only test_harness.py and test_report.py hold tests (of the harness itself).
"""
