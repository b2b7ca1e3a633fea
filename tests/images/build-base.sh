#!/usr/bin/env bash
# Build a Python base image from Debian's packages, for building the platform's images where
# no registry can be reached (the Dockerfiles take it as PYTHON_IMAGE):
#
#   tests/images/build-base.sh [TAG]      # default local/python-base:3.13-slim-trixie
#
# debootstrap --variant=minbase trixie with python3 (3.13) and its venv module, imported
# with `docker import`. Nothing of the build machine goes in: no proxy CA, no pip config.
# Trimmed as the official python:*-slim images are, so image sizes compare: their base,
# debian:trixie-slim, leaves out /usr/share/{doc,groff,info,linda,lintian/overrides,locale,man}
# (debuerreotype, scripts/.slimify-excludes), and they end with `apt-get dist-clean`, which
# empties apt's lists and cache (docker-library/python, 3.13/slim-trixie/Dockerfile).
# Needs root, debootstrap and a running Docker daemon; about a minute and a half.
set -euo pipefail

TAG="${1:-local/python-base:3.13-slim-trixie}"
SUITE=trixie
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKER="${DOCKER:-docker}"

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$SUITE" "$rootfs" "$MIRROR" >&2
# Package lists, the downloaded packages, documentation and translations are not needed at
# run time. Only /var/lib/apt/lists' contents go: apt-get update fills it again.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/archives/partial/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/groff/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/linda/* "$rootfs"/usr/share/lintian/overrides/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/man/*
tar -C "$rootfs" -c . | "$DOCKER" import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "debootstrap --variant=minbase $SUITE + python3, python3-venv" \
  - "$TAG" >&2
echo "$TAG"
