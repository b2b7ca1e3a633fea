"""`python -m gitops.checks.bootstraps SCRIPT [VAR=value ...]`: run one bootstrap script under
the stand-ins and print the calls it made (see bootstrap_run)."""

from __future__ import annotations

import sys

from gitops.checks.bootstraps.bootstrap_run import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
