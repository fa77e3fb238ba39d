"""Build the Gradio app from Services (`build_app`) and run it from Settings (`launch`).

Tabs are listed in TABS: each is `create_x_tab(ctx) -> dict[str, Component]`, wiring only; the
logic lives in the services. Per-user values (chosen dataset, name, queue seed, current example)
live in gr.State / gr.BrowserState, never in module globals.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
from collections.abc import Callable
from typing import Any

import gradio as gr

from ftdemo.errors import FtdemoError
from ftdemo.services import Services
from ftdemo.settings import Settings
from ftdemo.store.session import is_sqlite, public_url
from ftdemo.ui import html
from ftdemo.ui.access import RequireLogin, Sessions, file_route_blocklist, open_access_warning
from ftdemo.ui.api import register_api
from ftdemo.ui.auth import DEFAULT_NAME, clean_name, make_auth
from ftdemo.ui.context import PRIVATE, UIContext, guard
from ftdemo.ui.data_tab import create_data_tab
from ftdemo.ui.js import KEYBOARD_JS
from ftdemo.ui.label_tab import create_label_tab
from ftdemo.ui.limits import LoginThrottle, UploadLimits
from ftdemo.ui.models_tab import create_models_tab
from ftdemo.ui.predict_api import register_predict_api
from ftdemo.ui.predict_tab import create_predict_tab
from ftdemo.ui.quality_api import register_quality_api
from ftdemo.ui.review_tab import create_review_tab
from ftdemo.ui.train_tab import create_train_tab

log = logging.getLogger(__name__)

TABS: tuple[tuple[str, Callable[[UIContext], dict[str, Any]]], ...] = (
    ("label", create_label_tab),
    ("review", create_review_tab),
    ("data", create_data_tab),
    ("train", create_train_tab),
    ("models", create_models_tab),
    ("predict", create_predict_tab),
)
# Events (UI and API) that may run at once. Each is a short DB transaction; SQLite queues writers.
CONCURRENCY = 8
# BrowserState is encrypted with this key. It only guards preferences (name, dataset, queue seed), and a
# fixed key keeps them across server restarts (a random one would forget them on every start).
PREFS_SECRET = "ftdemo-browser-preferences"
SUBTITLE = "Label texts, fine-tune a BERT classifier, explain its predictions."
SWEEP_EVERY_S = 600  # how often gradio looks for uploads (and its cached copies of downloads) to delete


def cache_lifetime(settings: Settings) -> tuple[int, int]:
    """gradio's `delete_cache` (every, older than; whole seconds): files live FTDEMO_TEMP_FILE_HOURS, plus
    at most one sweep interval. Without it gradio keeps every upload until the server stops."""
    age = max(1, round(settings.temp_file_hours * 3600))
    return min(age, SWEEP_EVERY_S), age


def build_ui(services: Services) -> tuple[gr.Blocks, UIContext]:
    """The Blocks app and its context (tests use the context to reach components)."""
    auth = services.settings.auth_enabled
    open_warning = open_access_warning(services.settings)
    with gr.Blocks(title="ftdemo", analytics_enabled=False, delete_cache=cache_lifetime(services.settings)) as demo:
        if open_warning:  # the same words as the log line: whoever opens the page sees it too
            gr.HTML(html.banner(open_warning), elem_id="ftd-open-warning")
        with gr.Row(equal_height=True, elem_classes="ftd-header"):
            gr.HTML(f"<h1>ftdemo</h1><p>{html.esc(SUBTITLE)}</p>")
            dataset = gr.Dropdown(choices=services.datasets.names(), value=None, label="Dataset", scale=1,
                                  min_width=220, elem_id="ftd-dataset")
            annotator = gr.Textbox(value=DEFAULT_NAME, label="Your name", info="remembered in this browser",
                                   visible=not auth, scale=1, min_width=180, max_length=100,
                                   elem_id="ftd-annotator")
            identity = gr.HTML(visible=auth, elem_id="ftd-identity")
        role_note = gr.HTML(visible=False)
        stored_dataset = gr.BrowserState(None, storage_key="ftdemo-dataset", secret=PREFS_SECRET)
        stored_name = gr.BrowserState("", storage_key="ftdemo-annotator", secret=PREFS_SECRET)
        seed = gr.BrowserState(0, storage_key="ftdemo-queue-seed", secret=PREFS_SECRET)
        refresh = gr.State(0)
        ctx = UIContext(services=services, demo=demo, dataset=dataset, annotator=annotator, seed=seed,
                        refresh=refresh)
        with gr.Tabs(elem_id="ftd-tabs") as tabs:
            ctx.tabs = tabs
            for name, create in TABS:
                ctx.elems[name] = create(ctx)
        register_api(ctx)
        register_predict_api(ctx)
        register_quality_api(ctx)  # /agreement, /overlap, /set_overlap, /prune_models

        @guard(role_note)
        @ctx.anyone
        def on_load(last_dataset: str | None, last_name: str | None, seed_: int | None,
                    request: gr.Request) -> dict:
            names = services.datasets.names()
            out: dict[Any, Any] = {
                dataset: gr.update(choices=names, value=last_dataset if last_dataset in names else
                                   (names[0] if names else None)),
                seed: seed_ or secrets.randbelow(2**31 - 2) + 1,  # per-browser order for the shuffled queue
            }
            if auth:
                actor = ctx.actor(request, None)
                out[identity] = html.identity(actor.name, actor.role, signed_in=True)
            else:
                actor = ctx.actor(request, last_name)
                out[annotator] = clean_name(last_name)
            for component in ctx.admin_only:
                out[component] = gr.update(visible=actor.is_admin)
            out[role_note] = gr.update(visible=not actor.is_admin, value=html.message(
                "You are signed in as an annotator: you can label and browse; an admin manages datasets and files."))
            return out

        demo.load(on_load, [stored_dataset, stored_name, seed],
                  [dataset, seed, identity, annotator, role_note, *ctx.admin_only], **PRIVATE)

        @ctx.anyone
        def remember_dataset(value: str | None) -> str | None:
            return value

        @ctx.anyone
        def remember_name(value: str | None) -> str:
            return clean_name(value)

        # remember choices in this browser (no queue: trivial, and must not wait behind long events)
        dataset.change(remember_dataset, dataset, stored_dataset, queue=False, show_progress="hidden", **PRIVATE)
        annotator.change(remember_name, annotator, stored_name, queue=False, show_progress="hidden", **PRIVATE)
    demo.queue(default_concurrency_limit=CONCURRENCY)
    return demo, ctx


def build_app(services: Services) -> gr.Blocks:
    """The Gradio app over `services`. Launch it with `demo.launch(**launch_options(settings))`."""
    return build_ui(services)[0]


def _theme() -> gr.themes.Base:
    # System fonts only: the app must work offline (no Google Fonts request from the browser).
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="slate",
                          font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])


def launch_options(settings: Settings) -> dict[str, Any]:
    """`demo.launch()` keyword arguments that belong to the app: auth, limits, file access, theme, CSS, JS.

    The file route serves gradio's own upload and cache folders only (no allowed_paths), never the
    database or the model versions (blocked_paths); with auth on, every route needs the login, sessions
    end after FTDEMO_SESSION_HOURS and failed sign-ins back off. Uploads are bounded per request (and
    admin-only with auth on) in front of gradio."""
    from starlette.middleware import Middleware

    middleware = []
    if settings.auth_enabled:
        sessions = Sessions(settings.session_hours * 3600)  # shared: the login starts a session, each request checks it
        middleware += [Middleware(RequireLogin, sessions=sessions),
                       Middleware(LoginThrottle, settings=settings, sessions=sessions)]
    middleware.append(Middleware(UploadLimits, settings=settings))
    return dict(
        auth=make_auth(settings),
        auth_message="Sign in with the name and password your admin gave you." if settings.auth_enabled else None,
        app_kwargs={"middleware": middleware},
        max_file_size=f"{settings.max_upload_mb}mb",
        allowed_paths=[],
        blocked_paths=file_route_blocklist(settings),
        theme=_theme(),
        css=html.CSS,
        js=KEYBOARD_JS,
        footer_links=["api"],
    )


def seed_demo(services: Services) -> list[str]:
    """Create the demo datasets on first start (empty DB, FTDEMO_SEED_DEMO on); never fails the launch."""
    if not services.settings.seed_demo or services.datasets.names():
        return []
    try:
        from ftdemo.services.demo import seed_demo_datasets
    except ImportError:
        return []
    try:
        created = seed_demo_datasets(services)
    except FtdemoError as err:
        log.warning("could not create the demo datasets: %s", err)
        return []
    if created:
        log.info("created demo datasets: %s", ", ".join(created))
    return created


def launch(settings: Settings, *, prevent_thread_lock: bool = False) -> gr.Blocks:
    """Open the database, seed demo data if empty, and serve the app (blocks unless prevent_thread_lock)."""
    services = Services(settings)
    interrupted = services.training.recover()  # runs a previous app process left 'running'
    if interrupted:
        log.warning("marked training runs %s as interrupted (the app stopped while they ran)", interrupted)
    services.registry_cleanup()
    engine = services.db.server_version()
    if is_sqlite(settings.db_url):
        engine += f", journal mode {services.db.journal_mode()}"
    log.info("database %s (%s); models in %s", public_url(settings.db_url), engine, settings.models_dir)
    seed_demo(services)
    open_warning = open_access_warning(settings)
    if open_warning:
        log.warning(open_warning)
    demo = build_app(services)
    if prevent_thread_lock:  # the caller owns the server (tests, embedding) and closes the services
        demo.launch(server_name=settings.host, server_port=settings.port, prevent_thread_lock=True,
                    **launch_options(settings))
        return demo
    # SIGTERM (docker stop, systemd, a Space restarting) ends the app like Ctrl-C: the server closes, then
    # every training child is asked to stop (its run becomes 'interrupted') and the process exits in seconds
    signal.signal(signal.SIGTERM, _interrupt_in(os.getpid()))
    try:
        demo.launch(server_name=settings.host, server_port=settings.port, **launch_options(settings))
    finally:
        log.info("shutting down: stopping training runs in progress")
        services.close()
    return demo


def _interrupt_in(pid: int) -> Callable[[int, Any], None]:
    """A SIGTERM handler that ends process `pid` like Ctrl-C. A process forked from it (a library's worker
    pool) inherits the handler; there it ends the child as SIGTERM means, without a KeyboardInterrupt
    traceback in the app's log."""
    def handler(signum: int, _frame: Any) -> None:
        if os.getpid() != pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise KeyboardInterrupt

    return handler
