"""`placecode serve`: run the web app under uvicorn (uvloop, httptools)."""

from __future__ import annotations

import os
import shutil
import tempfile

import typer

from placecode.cli.common import console, settings
from placecode.config import get_settings


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, min=1, max=65535),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
    access_log: bool = typer.Option(False, help="Also print uvicorn's own access log."),
) -> None:
    """Serve PlaceCode over HTTP."""
    loaded = settings()  # refuse unsafe production settings before anything starts
    if loaded.public_base_url is None:
        # Without a configured public address, codes point at this very server; the
        # workers read it from the environment when they build the app.
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        os.environ["PLACECODE_PUBLIC_BASE_URL"] = f"http://{shown_host}:{port}"
        get_settings.cache_clear()
        loaded = get_settings()
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker is its own process; their metrics are summed through this directory.
        metrics_dir = tempfile.mkdtemp(prefix="placecode-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    import uvicorn  # only this command needs the server

    console.print(f"PlaceCode serving on http://{host}:{port} ({loaded.base_url} in QR codes)")
    try:
        uvicorn.run(
            "placecode.web.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            access_log=access_log,
            proxy_headers=True,
            timeout_graceful_shutdown=10,
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
