"""Run the real Gradio app over a Services object on a free localhost port (for the tests)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def serve_on_free_port(services: Any) -> Iterator[tuple[str, Any]]:
    """Yield (url, Blocks) while the app runs; the URL ends with '/'."""
    from ftdemo.ui.app import build_app, launch_options

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = build_app(services)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_options(services.settings))
    try:
        yield f"http://127.0.0.1:{port}/", demo
    finally:
        demo.close()
