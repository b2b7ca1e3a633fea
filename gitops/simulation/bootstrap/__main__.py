"""`python -m gitops.simulation.bootstrap SCRIPT [VAR=value ...]`: run one bootstrap script under
the stand-ins and print the calls it made (see run.py)."""

from __future__ import annotations

import sys

from gitops.simulation.bootstrap.run import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
