"""`serve`: run the web app."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from ftdemo.cli.common import whole_number

log = logging.getLogger(__name__)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help="run the web app")
    p.add_argument("--host", help="bind address (default $FTDEMO_HOST, else $GRADIO_SERVER_NAME, else 127.0.0.1)")
    p.add_argument("--port", type=whole_number(0, 65535),
                   help="port (default $FTDEMO_PORT, else $GRADIO_SERVER_PORT, else 7860)")
    p.set_defaults(handler=serve, needs_services=False)


def serve(args: argparse.Namespace, _services: Any) -> tuple[str, Any]:
    from ftdemo.settings import Settings

    # the start-up facts (database, SQLite version, journal mode, demo data) are INFO: show them when serving
    logging.getLogger("ftdemo").setLevel(logging.INFO)
    settings = Settings.from_env(db_url=args.db, host=args.host, port=args.port)
    import_spaces_first(settings)
    preflight(settings)
    from ftdemo.ui.app import launch

    launch(settings)
    return "", {"stopped": True}


def import_spaces_first(settings: Any) -> None:
    """On ZeroGPU, import `spaces` before anything imports torch: it patches torch as it loads (and refuses
    to start once CUDA was initialised). Shared with app.py; nothing to do elsewhere."""
    if settings.zero_gpu:
        import spaces  # noqa: F401


def preflight(settings: Any) -> None:
    """Checks before the slow part of a start (importing gradio), shared with the Spaces entry app.py:
    refuse a database on a network/FUSE filesystem; warn when a Space keeps its data on ephemeral disk."""
    from ftdemo.store.filesystem import check_database_url, ephemeral_storage_warning

    check_database_url(settings.db_url, allow_unsafe=settings.allow_unsafe_fs)
    if warning := ephemeral_storage_warning(settings):
        log.warning(warning)
