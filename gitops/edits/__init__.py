"""Edits of the overlays, each keeping what it does not change (comments, order, layout):
image bumps (bump, kustomization_images), a new tenant (scaffold) and the model a tenant
serves (model_env). Edits read the tree; they know nothing of the checks or the diff.
"""
