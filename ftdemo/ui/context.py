"""What every tab gets: the services and the shared components (dataset picker, who is labelling),
and the declarations every function registered with gradio carries: `ctx.admin` or `ctx.anyone`.

Hiding a control is cosmetic: anyone signed in can post any event id to the queue. So each handler
says who may run it, the admin ones refuse annotators before anything else runs, and
tests/security/test_security_events.py walks the app's own list of events to check both.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ftdemo.errors import FtdemoError
from ftdemo.services import Actor, Services, require_admin
from ftdemo.ui import html
from ftdemo.ui.auth import actor_for

log = logging.getLogger(__name__)

# UI events are for the page only; the documented API is in ftdemo/ui/api.py.
PRIVATE: dict[str, Any] = {"api_visibility": "private"}
ACCESS = "ftdemo_access"  # the attribute ctx.admin / ctx.anyone set on a handler: "admin" | "anyone"
# Every event that computes an explanation (the Predict tab's and /explain) joins one gradio concurrency
# group: explanations cost seconds of CPU, so a few run at once and the rest wait in gradio's queue.
EXPLAIN_EVENTS: dict[str, Any] = {"concurrency_limit": 2, "concurrency_id": "explain"}


@dataclass
class UIContext:
    """Built once per app in `build_app`; per-user values live in the components, never here."""

    services: Services
    demo: gr.Blocks
    dataset: gr.Dropdown  # the dataset every tab works on
    annotator: gr.Textbox  # typed name (hidden when auth is on)
    seed: gr.BrowserState  # per-browser seed for the shuffled queue
    refresh: gr.State  # bumped when datasets/labels/examples change outside the current tab
    tabs: gr.Tabs | None = None  # the tab bar, for buttons that lead to another tab
    elems: dict[str, dict[str, Any]] = field(default_factory=dict)  # tab name -> its components
    admin_only: list[Any] = field(default_factory=list)  # hidden for annotators (services enforce it too)

    @property
    def settings(self) -> Any:
        return self.services.settings

    def actor(self, request: gr.Request | None, typed_name: str | None) -> Actor:
        return actor_for(self.settings, request, typed_name)

    def caller(self, request: gr.Request | None) -> str:
        """Whose request this is, for per-user limits: the signed-in name, else the browser session."""
        if self.settings.auth_enabled:
            return self.actor(request, None).name
        return f"session:{getattr(request, 'session_hash', None) or 'local'}"

    def admin(self, action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a handler admin-only: `@ctx.admin("import data")`. With logins on, an annotator is refused
        ("only an admin can import data") before the handler runs.

        The handler must take a `gr.Request` (gradio injects it by annotation); the services check the role
        again, this check stops the event before it parses a file or reads anything for an annotator."""

        def declare(fn: Callable[..., Any]) -> Callable[..., Any]:
            if not any(p.annotation is gr.Request or "gr.Request" in str(p.annotation)
                       for p in inspect.signature(fn).parameters.values()):
                raise TypeError(f"{fn.__qualname__} is admin-only, so it needs a `request: gr.Request` parameter")

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if self.settings.auth_enabled:
                    request = next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)
                    require_admin(self.actor(request, None), action)
                return fn(*args, **kwargs)

            setattr(wrapper, ACCESS, "admin")
            return wrapper

        return declare

    @staticmethod
    def anyone(fn: Callable[..., Any]) -> Callable[..., Any]:
        """Declare `fn` open to every signed-in user (annotators included); the services still check roles."""
        setattr(fn, ACCESS, "anyone")
        return fn


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
            # stamped: a key press's click that met this error was answered, and is not sent again (ui/js.py)
            return {message: html.stamped(html.message(text, error=True))} if message is not None else {}

        return wrapper

    return decorate
