#!/usr/bin/env bash
# Build a Python base image from Debian's packages, for building the platform's images where
# no registry can be reached (the Dockerfiles take it as PYTHON_IMAGE):
#
#   tests/images/build-base.sh [TAG]      # default local/python-base:3.13-trixie
#
# debootstrap --variant=minbase trixie with python3 (3.13) and its venv module, imported
# with `docker import`. Nothing of the build machine goes in: no proxy CA, no pip config.
# Needs root, debootstrap and a running Docker daemon; about a minute and a half.
set -euo pipefail

TAG="${1:-local/python-base:3.13-trixie}"
SUITE=trixie
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKER="${DOCKER:-docker}"

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$SUITE" "$rootfs" "$MIRROR" >&2
# Package lists and documentation are not needed at run time.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
tar -C "$rootfs" -c . | "$DOCKER" import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "debootstrap --variant=minbase $SUITE + python3, python3-venv" \
  - "$TAG" >&2
echo "$TAG"
