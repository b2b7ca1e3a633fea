"""Edits of the overlays, each keeping what it does not change (comments, order, layout):
image bumps (bump, kustomization_images), a new tenant (scaffold), a new model of a tenant
(add_model) and the entries of a tenant's models.yaml (models_yaml: pin, unpin, add). Edits
read the tree; they know nothing of the checks or the diff.
"""
