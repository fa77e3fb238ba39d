"""The documented API (for gradio_client and scripts): datasets, next, label, stats, train, run, models.

    from gradio_client import Client
    c = Client("http://127.0.0.1:7860/", auth=("alice", "pw"))   # auth only when FTDEMO_USERS is set
    ex = c.predict("sentiment", "alice", api_name="/next")
    c.predict("sentiment", ex["id"], "positive", "alice", api_name="/label")
    run = c.predict("sentiment", {"epochs": 3}, "alice", api_name="/train")   # admins only; starts a run
    c.predict(run["id"], api_name="/run")        # poll: status queued → running → succeeded/failed/cancelled
    c.predict("sentiment", api_name="/models")   # versions, newest first; "active" marks the serving one

With auth on, the signed-in user is the annotator and the `annotator` argument is ignored.
Errors a caller can fix come back as gradio_client AppError with the service's message.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gradio as gr

from ftdemo.errors import FtdemoError, InvalidInputError
from ftdemo.services.queue import ORDERS
from ftdemo.ui.context import UIContext

# What /run and /models return: not the run's process details (pid, host) nor model directories on the server.
RUN_KEYS = ("id", "dataset", "status", "version", "counts", "config", "progress", "metrics", "timings", "error",
            "cancel_requested", "created_by", "created_at", "started_at", "finished_at")
VERSION_KEYS = ("version", "status", "active", "run_id", "base_model", "metrics", "reason", "created_at",
                "activated_at", "size_mb")


def endpoint(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an API function: an error the caller can fix comes back as a gr.Error carrying its message."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FtdemoError as err:
            raise gr.Error(str(err), title="Request refused", print_exception=False) from None

    return wrapper


def register_api(ctx: UIContext) -> None:
    services = ctx.services

    def datasets() -> list[dict]:
        """Every dataset with its task, labels and counts."""
        return [info.to_dict() for info in services.datasets.list()]

    def next_example(dataset: str, annotator: str = "", order: str = "in_order", seed: int = 0,
                     request: gr.Request = None) -> dict | None:  # type: ignore[assignment]
        """The next example for this annotator (unlabelled, not skipped by them), or null when done.

        order: ORDERS_DOC."""
        actor = ctx.actor(request, annotator)
        view = services.annotate.next(dataset, actor, order=order, seed=int(seed or 0))
        return view.to_dict() if view else None

    def label(dataset: str, example_id: int, labels_csv: str, annotator: str = "",
              request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Record labels for one example; labels_csv is "positive" or "a,b" for multi-label datasets.

        Returns the example with its current (consensus) labels."""
        actor = ctx.actor(request, annotator)
        return services.annotate.label(dataset, int(example_id), labels_csv, actor=actor).to_dict()

    def stats(dataset: str) -> dict:
        """Labelled/unlabelled counts, counts per label, annotators and agreement."""
        return services.datasets.stats(dataset).to_dict()

    def train(dataset: str, options: dict[str, Any] | None = None, annotator: str = "",
              request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Start a training run on the dataset's current labels (admins only; one run at a time).

        options: training settings by TrainConfig name, e.g. {"epochs": 3, "base_model": "bert-base-uncased"};
        omitted ones take their defaults. Returns the run (id, status "queued", counts); poll /run."""
        if options is not None and not isinstance(options, dict):
            raise InvalidInputError('options must be a JSON object of training settings, e.g. {"epochs": 3}')
        actor = ctx.actor(request, annotator)
        return _run_view(services.training.start(dataset, dict(options or {}), actor=actor))

    def run(run_id: int, request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """One training run: status, progress (the activation decision once done), metrics, timings, error
        (for annotators its first line only; admins get the details)."""
        return _run_view(services.training.run(int(run_id), actor=ctx.actor(request, None)))

    def models(dataset: str) -> list[dict]:
        """The dataset's model versions, newest first, with metrics and whether each is the active one."""
        return [{k: v.get(k) for k in VERSION_KEYS} for v in services.models.list(dataset)]

    # Each call is one short transaction; SQLite queues writers (BEGIN IMMEDIATE + busy timeout),
    # so these may run side by side up to the queue's default concurrency limit.
    next_example.__doc__ = (next_example.__doc__ or "").replace(
        "ORDERS_DOC", " or ".join(f'"{o.name}" ({o.title.lower()})' for o in ORDERS))
    gr.api(endpoint(ctx.anyone(datasets)), api_name="datasets")
    gr.api(endpoint(ctx.anyone(next_example)), api_name="next")
    gr.api(endpoint(ctx.anyone(label)), api_name="label")
    gr.api(endpoint(ctx.anyone(stats)), api_name="stats")
    gr.api(endpoint(ctx.admin(train)), api_name="train")
    gr.api(endpoint(ctx.anyone(run)), api_name="run")
    gr.api(endpoint(ctx.anyone(models)), api_name="models")


def _run_view(run: dict[str, Any]) -> dict[str, Any]:
    return {k: run.get(k) for k in RUN_KEYS}
