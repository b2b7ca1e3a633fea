"""`python -m gitops.simulation.bootstrap SCRIPT [VAR=value ...]`: run one bootstrap script
under the stand-ins, with the simulated cluster answering for Argo CD, and print the calls it
made and where each simulated cluster's Applications ended."""

from __future__ import annotations

import json
import sys

from gitops import paths
from gitops.simulation.bootstrap.run import run_script
from gitops.simulation.bootstrap.scenarios import default_factory


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    env = dict(a.split("=", 1) for a in argv[1:])
    fail = env.pop("STANDIN_FAIL", "")
    recording = run_script(
        argv[0], env, paths.REPO_ROOT, fail=fail, simulation=default_factory(paths.REPO_ROOT)
    )
    for call in recording.calls:
        effect = json.dumps(dict(call.effect))[:160]
        print(f"{call.seq:4} rc={call.rc} [{call.script}] {call.text}  {effect}")
    print(recording.stderr[-3000:], file=sys.stderr)
    for context, sim in recording.simulations.items():
        for view in sim.applications():
            print(f"{context}: {view.name} {view.sync}/{view.health} {view.message}")
    print(
        f"exit {recording.returncode} in {recording.seconds}s, left: {recording.state['clusters']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
