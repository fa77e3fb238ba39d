"""What every tab gets: the services and the shared components (dataset picker, who is labelling)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ftdemo.errors import FtdemoError
from ftdemo.services import Actor, Services
from ftdemo.ui import html
from ftdemo.ui.auth import actor_for

log = logging.getLogger(__name__)

# UI events are for the page only; the documented API is in ftdemo/ui/api.py.
PRIVATE: dict[str, Any] = {"api_visibility": "private"}


@dataclass
class UIContext:
    """Built once per app in `build_app`; per-user values live in the components, never here."""

    services: Services
    demo: gr.Blocks
    dataset: gr.Dropdown  # the dataset every tab works on
    annotator: gr.Textbox  # typed name (hidden when auth is on)
    seed: gr.BrowserState  # per-browser seed for the shuffled queue
    refresh: gr.State  # bumped when datasets/labels/examples change outside the current tab
    elems: dict[str, dict[str, Any]] = field(default_factory=dict)  # tab name -> its components
    admin_only: list[Any] = field(default_factory=list)  # hidden for annotators (services enforce it too)

    @property
    def settings(self) -> Any:
        return self.services.settings

    def actor(self, request: gr.Request | None, typed_name: str | None) -> Actor:
        return actor_for(self.settings, request, typed_name)


def guard(message: Any = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn a user-fixable error into a toast (and an inline message if `message` is given).

    The wrapped handler must return a dict {component: value}; on error only `message` changes.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except FtdemoError as err:
                text = str(err)
            except FileNotFoundError as err:
                text = f"file not found: {err.filename or err}"
            except Exception as err:  # a bug: log it, but never show a traceback in the page
                log.exception("UI handler %s failed", fn.__name__)
                text = f"something went wrong ({type(err).__name__}); the server log has the details"
            gr.Warning(html.esc(text))  # toasts render HTML: user text inside messages must stay text
            return {message: html.message(text, error=True)} if message is not None else {}

        return wrapper

    return decorate
