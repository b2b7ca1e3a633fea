"""Serving the current version: keep it current with a background reload and hot swap
(swap.py), and call it off the event loop, coalescing concurrent requests (batching.py)."""
