"""A model of a cluster's first sync under Argo CD, built from upstream source; see
docs/gitops.md."""
