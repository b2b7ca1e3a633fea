"""Turn CRDs into the JSON schemas kubeconform reads, one per served version, at
OUT/<group>/<kind lower case>_<version>.json (kubeconform's
`{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json` schema location).

Objects that list their properties get `additionalProperties: false` unless they preserve
unknown fields, so that `kubeconform -strict` rejects misspelt fields in custom resources too.

Usage: python .github/scripts/crd_jsonschema.py CRD_DIR OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def strict(node: Any) -> Any:
    if isinstance(node, dict):
        node = {key: strict(value) for key, value in node.items()}
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict(item) for item in node]
    return node


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: crd_jsonschema.py CRD_DIR OUT_DIR", file=sys.stderr)
        return 2
    crd_dir, out = Path(argv[0]), Path(argv[1])
    written = 0
    for path in sorted(crd_dir.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if not version.get("served") or not schema:
                    continue
                target = (
                    out / spec["group"] / f"{spec['names']['kind'].lower()}_{version['name']}.json"
                )
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(strict(schema)))
                written += 1
    print(f"wrote {written} schemas to {out}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
