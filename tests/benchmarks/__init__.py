"""`python -m tests.benchmarks`: this service against `mlflow models serve`, in one run.

Not a test suite: only test_harness.py holds tests (of the harness itself).
"""
