"""Rollouts in the service: follow the candidate version beside the stable one
(candidate.py), pick which one answers a request (routing.py), and score the candidate off
the response path in shadow steps (shadow.py)."""
