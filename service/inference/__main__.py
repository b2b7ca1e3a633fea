"""`python -m inference`: read settings, then serve until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import os
import sys
import tempfile

from inference.settings import Settings, SettingsError


def _check_cache_dir(settings: Settings) -> None:
    try:
        settings.model_cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.model_cache_dir):
            pass
    except OSError as exc:
        raise SettingsError(
            f"MODEL_CACHE_DIR {str(settings.model_cache_dir)!r} is not writable: {exc.strerror}"
        ) from None


def main() -> int:
    try:
        settings = Settings.from_env()
        _check_cache_dir(settings)
    except SettingsError as exc:
        print(f"inference: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # Inherited by the download child (inference.fetch). The reloader retries with its own
    # backoff; MLflow's defaults (7 retries, 120 s timeout) would stall it for minutes.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")

    import uvicorn

    from inference.api.app import create_app
    from inference.api.one_write import OneWriteHttpToolsProtocol

    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,  # requests are counted in metrics; per-request logs cost throughput
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        # uvicorn's httptools protocol, writing each response in one write() (one_write.py).
        http=OneWriteHttpToolsProtocol,
        # Nothing here reads the client's address or the scheme (no access log, no redirects),
        # so uvicorn's X-Forwarded-* rewriting, which parses the peer's address on every
        # request, is left out.
        proxy_headers=False,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
