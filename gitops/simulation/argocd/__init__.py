"""Argo CD v3.5.1 as the simulation needs it: projects, one Application's sync operation, and
the controllers that start and retry syncs and generate Applications from ApplicationSets."""
