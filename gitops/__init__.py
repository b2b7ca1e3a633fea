"""Repository tooling: render, validate, diff, scaffold tenants, bump images."""
