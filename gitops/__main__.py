"""`python -m gitops <command>`: one entry point for the repository tooling."""

from __future__ import annotations

import importlib
import sys

from gitops.tree.upstream import UpstreamFilesError

# command -> module whose `main(argv) -> int` implements it; imported lazily so one
# command's dependencies never slow down or break another.
COMMANDS = {
    "validate": "gitops.validate",
    "scaffold-tenant": "gitops.scaffold_tenant",
    "add-model": "gitops.add_model",
    "set-repository": "gitops.set_repository",
    "diff": "gitops.diff",
    "bump": "gitops.edits.bump",
    "pin-built": "gitops.edits.pin_built",
    "inventory": "gitops.tree.inventory",
    "export-schemas": "gitops.tree.export_schemas",
    "upstream": "gitops.tree.upstream",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m gitops {{{','.join(COMMANDS)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]])
    try:
        return int(module.main(argv[1:]))
    except UpstreamFilesError as error:
        # A command that needs the pinned upstream files stops at the first set it cannot get,
        # with one message that says what to do (not a finding per object left unchecked).
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
