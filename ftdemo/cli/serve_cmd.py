"""`serve`: run the web app."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help="run the web app")
    p.add_argument("--host", help="bind address (default $FTDEMO_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default $FTDEMO_PORT or 7860)")
    p.set_defaults(handler=serve, needs_services=False)


def serve(args: argparse.Namespace, _services: Any) -> tuple[str, Any]:
    from ftdemo.config import Settings
    from ftdemo.ui.app import launch

    launch(Settings.from_env(db_url=args.db, host=args.host, port=args.port))
    return "", {"stopped": True}
