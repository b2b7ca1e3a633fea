"""`python -m inference.fetch`: download one model version with MLflow's client, in a child.

The serving process starts this as a short-lived child so that it never imports mlflow
(about 35 MiB and 2 s of imports it would otherwise keep for its whole life). MLflow's client
decides how to reach the artifacts: through the server's artifact proxy (`mlflow-artifacts:`)
or straight from S3/MinIO (MLFLOW_S3_ENDPOINT_URL, AWS_*). Everything else comes from the
environment the service passes down (MLFLOW_TRACKING_USERNAME/PASSWORD, MLFLOW_HTTP_REQUEST_*).

    python -m inference.fetch --tracking-uri URI MODEL_URI [DEST]

MODEL_URI is models:/<name>@<alias> or models:/<name>/<version>. Without DEST it only resolves.
On success it prints one JSON object: {"version": ..., "run_id": ..., "path": ..., "tags": {...}}
(the version's tags: the file digests recorded at registration are among them). On failure
it prints one line to stderr and exits with 2 (bad arguments), 3 (the registry refused or does
not know the model: unreachable, 401/403, unknown name/alias/version) or 4 (download failed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference.contracts.model_uri import ModelUri, ModelUriError

EXIT_BAD_ARGUMENTS = 2
EXIT_REGISTRY = 3
EXIT_DOWNLOAD = 4


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"inference.fetch: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_ARGUMENTS)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m inference.fetch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", required=True, help="MLflow tracking/registry URI")
    parser.add_argument("model_uri", help="models:/<name>@<alias> or models:/<name>/<version>")
    parser.add_argument("dest", nargs="?", type=Path, help="folder to download into")
    args = parser.parse_args(argv)
    try:
        ref = ModelUri.parse(args.model_uri)
    except ModelUriError as exc:
        print(f"inference.fetch: model_uri: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS

    import mlflow.artifacts
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=args.tracking_uri, registry_uri=args.tracking_uri)
    try:
        if ref.alias:
            found = client.get_model_version_by_alias(ref.name, ref.alias)
        else:
            found = client.get_model_version(ref.name, str(ref.version))
    except Exception as exc:
        print(f"cannot resolve {ref.uri}: {one_line(exc)}", file=sys.stderr)
        return EXIT_REGISTRY
    version = str(found.version)
    result: dict[str, object] = {
        "version": version,
        "run_id": found.run_id,
        "path": None,
        "tags": dict(found.tags or {}),
    }
    if args.dest is not None:
        try:
            result["path"] = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{ref.name}/{version}",
                dst_path=str(args.dest),
                tracking_uri=args.tracking_uri,
                registry_uri=args.tracking_uri,
            )
        except Exception as exc:
            print(f"cannot download {ref.name} v{version}: {one_line(exc)}", file=sys.stderr)
            return EXIT_DOWNLOAD
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
