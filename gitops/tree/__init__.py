"""The model every command reads: the repository's kustomizations rendered, each cluster's
Application tree, and the facts derived from them (tenants, CRDs, namespacing, pins, images).

Nothing here imports the checks, the diff or the edits: they all read the tree, and the
tree knows none of them ([tool.importlinter] in pyproject.toml, checked by tests/lint).
"""
