"""The documented API (for gradio_client and scripts): datasets, next, next_with_options, label,
label_with_suggestion, label_many, stats, train, run, models, suggest, similar, suspects, check_labels,
review_confirm, review_relabel, review_undo, adapt, adapted, audit, set_audit_share.

    from gradio_client import Client
    c = Client("http://127.0.0.1:7860/", auth=("alice", "pw"))   # auth only when FTDEMO_USERS is set
    ex = c.predict("sentiment", "alice", api_name="/next")       # leased to alice for FTDEMO_LEASE_S seconds
    c.predict("sentiment", "alice", "default", 0, {"suggest": False, "overlap": True},
              api_name="/next_with_options")                     # no suggestion; examples others hold too
    c.predict("sentiment", ex["id"], "positive", "alice", api_name="/label")
    c.predict("sentiment", ex["id"], "positive", "alice", {"labels": ["positive"], "model": "instant"},
              api_name="/label_with_suggestion")                 # and the suggestion that was shown
    c.predict("sentiment", [4, 8, 15], "negative", "alice", api_name="/label_many")   # undone as one step
    run = c.predict("sentiment", {"epochs": 3}, "alice", api_name="/train")   # admins only; starts a run
    c.predict(run["id"], api_name="/run")        # poll: status queued → running → succeeded/failed/cancelled
                                                 # (queued with "waiting_for_worker" under FTDEMO_TRAINING=workers)
    c.predict("sentiment", api_name="/models")   # versions, newest first; "active" marks the serving one
                                                 # ("comparison": paired, with its interval; "audit": accuracy)
    c.predict("sentiment", 0.1, "alice", api_name="/set_audit_share")   # admins: 10% reserved for evaluation
    c.predict("sentiment", api_name="/audit")    # {share, examples, labelled, labelled_total}
    c.predict("sentiment", {"epochs": 1}, "alice", api_name="/adapt")   # admins only: masked-LM run on the texts
    c.predict("sentiment", api_name="/adapted")  # adapted checkpoints: {"base_model": "a0001"} in /train options
    c.predict("sentiment", "great value", api_name="/suggest")   # {label, labels, probabilities, model} or null
    c.predict("sentiment", 0, "great value", 10, "", api_name="/similar")   # nearest examples by meaning
    c.predict("sentiment", 20, api_name="/suspects")   # probably mislabelled: [{id, given, suggested, confidence…}]
    c.predict("sentiment", {"folds": 5}, "alice", api_name="/check_labels")   # admins: k fine-tunes (poll /run);
                                                 # once it succeeds, /suspects uses them too
    c.predict("sentiment", 42, "negative", "alice", api_name="/review_relabel")   # or /review_confirm, /review_undo

With auth on, the signed-in user is the annotator and the `annotator` argument is ignored.
Errors a caller can fix come back as gradio_client AppError with the service's message; so do
arguments of the wrong type or range (`whole_number`, `string`: gradio passes JSON through as sent).
Anything else is logged with its traceback and answers a generic message, never an empty error.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

import gradio as gr

from ftdemo.errors import FtdemoError, InvalidInputError
from ftdemo.services.annotate import MAX_BULK
from ftdemo.services.queue import ORDERS
from ftdemo.ui.context import UIContext

# What /run and /models return: not the run's process details (pid, host, the worker's "host:pid") nor model
# directories on the server; whether a queued run waits for a training worker, yes.
RUN_KEYS = ("id", "dataset", "kind", "status", "version", "counts", "config", "progress", "metrics", "timings", "error",
            "cancel_requested", "created_by", "created_at", "started_at", "finished_at", "waiting_for_worker")
VERSION_KEYS = ("version", "status", "active", "run_id", "base_model", "metrics", "reason", "created_at",
                "activated_at", "size_mb", "dataset_disk_mb", "comparison", "audit")
ADAPTED_KEYS = ("name", "created_at", "base_model", "run_id", "texts", "epochs", "metrics")  # no server folder
MAX_ID = 2**63 - 1  # SQLite's largest integer: no row has a bigger id, and the driver overflows past it
MAX_SEED = 2**63 - 1
_DIGITS = re.compile(r"\s*[+-]?\d{1,20}\s*")
UNEXPECTED = ("something went wrong on the server (the server log has the details); check the arguments, "
              "and tell an admin if it keeps happening")

log = logging.getLogger(__name__)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def whole_number(value: Any, name: str, lo: int, hi: int) -> int:
    """`value` as an int from `lo` to `hi`: an int, an integral float (3.0) or decimal digits ("3").

    Refused: bools, fractions (1.5 must not become 1), other text, null and numbers out of range."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (isinstance(value, str) and _DIGITS.fullmatch(value)):
        number = int(value)
    if number is None or not lo <= number <= hi:
        raise InvalidInputError(f"{name} must be a whole number from {lo} to {hi}; got {_shown(value)}")
    return number


def string(value: Any, name: str, *, optional: bool = False) -> str:
    """`value` if it is a string ("" for null when the argument is `optional`)."""
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be text (a JSON string); got {_shown(value)}")
    return value


NEXT_OPTIONS = {"suggest": True, "overlap": False}  # /next_with_options: each option and its default


def next_options(options: Any) -> dict[str, bool]:
    """The options of /next_with_options, checked: a JSON object of true/false values, unknown keys refused."""
    if options is None:
        return dict(NEXT_OPTIONS)
    if not isinstance(options, dict):
        raise InvalidInputError(f"options must be a JSON object such as {{\"suggest\": false}}; got {_shown(options)}")
    unknown = sorted(set(options) - set(NEXT_OPTIONS))
    if unknown:
        raise InvalidInputError(f"unknown option {unknown[0]!r}; the options are: {', '.join(NEXT_OPTIONS)}")
    for key, value in options.items():
        if not isinstance(value, bool):
            raise InvalidInputError(f"option {key!r} must be true or false; got {_shown(value)}")
    return {**NEXT_OPTIONS, **options}


def endpoint(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an API function: an error the caller can fix comes back as a gr.Error carrying its message;
    any other exception is a bug: logged with its traceback, answered with UNEXPECTED (gradio would
    answer an empty error, and its text may name server internals)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except FtdemoError as err:
            raise gr.Error(str(err), title="Request refused", print_exception=False) from None
        except Exception:
            log.exception("API call %s failed", fn.__name__)
            raise gr.Error(UNEXPECTED, title="Server error", print_exception=False) from None

    return wrapper


def register_api(ctx: UIContext) -> None:
    services = ctx.services

    # Every argument is checked here before a service sees it (the services expect Python types).
    def datasets() -> list[dict]:
        """Every dataset with its task, labels and counts."""
        return [info.to_dict() for info in services.datasets.list()]

    # A new argument, even an optional one, would break callers of the plain HTTP API (gradio answers a call
    # with fewer values than the function's parameters with an error): new arguments come as new endpoints.
    def next_example(dataset: str, annotator: str = "", order: str = "in_order", seed: int = 0,
                     request: gr.Request = None) -> dict | None:  # type: ignore[assignment]
        """The next example for this annotator (unlabelled, not skipped by them), or null when done; with the
        model's "suggestion" ({label, labels, probabilities, model, probability}, or null while there is no
        model).

        order: ORDERS_DOC. The example is leased to the annotator for FTDEMO_LEASE_S seconds: other annotators
        are not handed it until they label or skip it, ask for another, or the lease runs out."""
        dataset, order = string(dataset, "dataset"), string(order, "order")
        seed = 0 if seed is None else whole_number(seed, "seed", -MAX_SEED - 1, MAX_SEED)
        return next_with_options(dataset, annotator, order, seed, None, request)

    def next_with_options(dataset: str, annotator: str = "", order: str = "in_order", seed: int = 0,
                          options: dict[str, Any] | None = None,
                          request: gr.Request = None) -> dict | None:  # type: ignore[assignment]
        """/next with options (a JSON object, every key optional): "suggest": false leaves the suggestion out
        (a gold-standard set must not be anchored by the model); "overlap": true also hands out examples other
        annotators hold (several annotators on the same examples, for agreement)."""
        dataset, order = string(dataset, "dataset"), string(order, "order")
        seed = 0 if seed is None else whole_number(seed, "seed", -MAX_SEED - 1, MAX_SEED)
        flags = next_options(options)
        actor = ctx.actor(request, string(annotator, "annotator", optional=True))
        view = services.annotate.next(dataset, actor, order=order, seed=seed, **flags)
        return view.to_dict() if view else None

    def suggest(dataset: str, text: str, text_pair: str = "") -> dict | None:
        """The model's suggestion for a typed text: {label, labels, probabilities, model, probability}
        (model: "instant" or the fine-tuned version that serves), or null while there is no model yet."""
        dataset, text = string(dataset, "dataset"), string(text, "text")
        pair = string(text_pair, "text_pair", optional=True) or None
        found = services.assist.suggest(dataset, text=text, text_pair=pair)
        return found.to_dict() if found is not None else None

    def similar(dataset: str, example_id: int = 0, text: str = "", limit: int = 20, text_filter: str = "",
                text_pair: str = "") -> list[dict]:
        """The examples nearest in meaning (cosine of embeddings) to an example (example_id) or a typed text,
        each {id, text, text_pair, labels, suggestion, score}; text_filter keeps those containing it."""
        dataset = string(dataset, "dataset")
        example_id = None if example_id in (None, 0, "") else whole_number(example_id, "example_id", 1, MAX_ID)
        text = string(text, "text", optional=True)
        if example_id is None and not text.strip():
            raise InvalidInputError("give an example_id or a text to find similar examples for")
        limit = 20 if limit is None else whole_number(limit, "limit", 1, 500)
        return services.assist.similar(dataset, example_id=example_id, text=text or None,
                                       text_pair=string(text_pair, "text_pair", optional=True) or None,
                                       limit=limit, text_filter=string(text_filter, "text_filter", optional=True))

    def label(dataset: str, example_id: int, labels_csv: str, annotator: str = "",
              request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Record labels for one example; labels_csv is "positive" or "a,b" for multi-label datasets.

        Returns the example with its current (consensus) labels."""
        return label_with_suggestion(dataset, example_id, labels_csv, annotator, None, request)

    def label_with_suggestion(dataset: str, example_id: int, labels_csv: str, annotator: str = "",
                              suggestion: dict[str, Any] | None = None,
                              request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """/label, with the suggestion shown while labelling ({"labels": [...], "model": "instant",
        "probability": 0.9}, e.g. the one /next returned; null: none), recorded as accepted or changed.

        Returns the example with its current (consensus) labels."""
        dataset, labels_csv = string(dataset, "dataset"), string(labels_csv, "labels_csv")
        example_id = whole_number(example_id, "example_id", 1, MAX_ID)
        actor = ctx.actor(request, string(annotator, "annotator", optional=True))
        return services.annotate.label(dataset, example_id, labels_csv, actor=actor, origin="api",
                                       suggestion=suggestion).to_dict()

    def label_many(dataset: str, example_ids: list[int], labels_csv: str, annotator: str = "",
                   request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Give many examples the same labels in one action (at most MAX_BULK_DOC ids); one undo takes it back.

        Returns {batch, labels, labelled, unchanged, missing, deleted, message}: ids that are not examples of
        the dataset (missing) or deleted ones are reported and left alone."""
        dataset, labels_csv = string(dataset, "dataset"), string(labels_csv, "labels_csv")
        if not isinstance(example_ids, list):
            raise InvalidInputError(f"example_ids must be a JSON list of example ids; got {_shown(example_ids)}")
        if len(example_ids) > MAX_BULK:
            raise InvalidInputError(f"{len(example_ids)} example ids are more than one call may label ({MAX_BULK}); "
                                    f"send them in parts")
        ids = [whole_number(i, "each of example_ids", 1, MAX_ID) for i in example_ids]
        actor = ctx.actor(request, string(annotator, "annotator", optional=True))
        return services.annotate.label_many(dataset, ids, labels_csv, actor=actor, origin="api").to_dict()

    def stats(dataset: str) -> dict:
        """Labelled/unlabelled counts, counts per label, annotators and agreement."""
        return services.datasets.stats(string(dataset, "dataset")).to_dict()

    def train(dataset: str, options: dict[str, Any] | None = None, annotator: str = "",
              request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Start a training run on the dataset's current labels (admins only; one run at a time).

        options: training settings by TrainConfig name, e.g. {"epochs": 3, "base_model": "bert-base-uncased"};
        omitted ones take their defaults. Returns the run (id, status "queued", counts); poll /run."""
        dataset = string(dataset, "dataset")
        if options is not None and not isinstance(options, dict):
            raise InvalidInputError('options must be a JSON object of training settings, e.g. {"epochs": 3}')
        actor = ctx.actor(request, string(annotator, "annotator", optional=True))
        return _run_view(services.training.start(dataset, dict(options or {}), actor=actor))

    def run(run_id: int, request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """One training run: status, progress (the activation decision once done), metrics, timings, error
        (for annotators its first line only; admins get the details)."""
        run_id = whole_number(run_id, "run_id", 1, MAX_ID)
        return _run_view(services.training.run(run_id, actor=ctx.actor(request, None)))

    def adapt(dataset: str, options: dict[str, Any] | None = None, annotator: str = "",
              request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Start an adaptation run: masked-LM training of the base model on every text of the dataset (admins
        only; one run at a time, like /train). options: AdaptConfig settings, e.g. {"epochs": 2,
        "whole_word_mask": true}. Returns the run (kind "adapt"); poll /run. When it succeeds, /adapted lists the
        checkpoint, and /train takes its name as {"base_model": "a0001"}."""
        dataset = string(dataset, "dataset")
        if options is not None and not isinstance(options, dict):
            raise InvalidInputError('options must be a JSON object of adaptation settings, e.g. {"epochs": 2}')
        actor = ctx.actor(request, string(annotator, "annotator", optional=True))
        return _run_view(services.training.adapt(dataset, dict(options or {}), actor=actor))

    def adapted(dataset: str) -> list[dict]:
        """The dataset's adapted checkpoints, newest first: name (a fine-tune's base_model), when, from which base,
        on how many texts, and the masked-LM loss and accuracy on held-out texts before and after."""
        return [{k: a.get(k) for k in ADAPTED_KEYS} for a in services.training.adapted(string(dataset, "dataset"))]

    def models(dataset: str) -> list[dict]:
        """The dataset's model versions, newest first, with metrics and whether each is the active one."""
        return [{k: v.get(k) for k in VERSION_KEYS} for v in services.models.list(string(dataset, "dataset"))]

    def audit(dataset: str) -> dict:
        """The dataset's audit sample: the share of examples reserved for evaluation (0: none), how many are in
        it, how many of them are labelled, and how many examples are labelled in all."""
        return services.datasets.audit(string(dataset, "dataset")).to_dict()

    def set_audit_share(dataset: str, share: float, annotator: str = "",
                        request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Reserve a random share of the dataset's examples for evaluation (admins only): 0 (none) to 0.5.
        They are never trained on nor picked by the model-ranked queue orders, the queue hands them out at
        random as labels come in, and /models reports each version's accuracy on the labelled ones."""
        if isinstance(share, bool) or not isinstance(share, (int, float)):
            raise InvalidInputError(f"share must be a number from 0 to 0.5; got {_shown(share)}")
        actor = ctx.actor(request, string(annotator, "annotator", optional=True))
        return services.datasets.set_audit_share(string(dataset, "dataset"), float(share), actor=actor).to_dict()

    # Each call is one short transaction; SQLite queues writers (BEGIN IMMEDIATE + busy timeout),
    # so these may run side by side up to the queue's default concurrency limit.
    next_example.__doc__ = (next_example.__doc__ or "").replace(
        "ORDERS_DOC", " or ".join(f'"{o.name}" ({o.title.lower()})' for o in ORDERS))
    def suspects(dataset: str, limit: int = 50) -> list[dict]:
        """Probably mislabelled examples, surest first: [{id, text, text_pair, given, suggested, probability,
        confidence, history}] (out-of-fold instant and word models, and the newest fine-tune check's, averaged,
        then confident learning; waits for missing embeddings)."""
        dataset = string(dataset, "dataset")
        limit = whole_number(limit, "limit", 1, 10_000)
        return [x.to_dict() for x in services.review.suspects(dataset, limit=limit, wait=True).suspects]

    def check_labels(dataset: str, options: dict[str, Any] | None = None, annotator: str = "",
                     request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Start a fine-tune check (admins only; one run at a time, like /train): `folds` fine-tunes (2-10,
        default 5), each on all but one fold of the labelled examples and scoring that fold. options: {"folds": 5}
        and TrainConfig settings, e.g. {"epochs": 3}. Returns the run (kind "check"); poll /run. Once it
        succeeds, /suspects averages its out-of-fold probabilities with the instant and the word model's."""
        dataset = string(dataset, "dataset")
        if options is not None and not isinstance(options, dict):
            raise InvalidInputError('options must be a JSON object, e.g. {"folds": 5}')
        actor = ctx.actor(request, string(annotator, "annotator", optional=True))
        return _run_view(services.training.check(dataset, dict(options or {}), actor=actor))

    def review_confirm(dataset: str, example_id: int, annotator: str = "",
                       request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """A suspect's current label is right: it leaves the suspects list until its label changes.
        Returns {message, example}."""
        dataset, example_id = string(dataset, "dataset"), whole_number(example_id, "example_id", 1, MAX_ID)
        actor = ctx.actor(request, string(annotator, "annotator", optional=True))
        done = services.review.confirm(dataset, example_id, actor=actor)
        return {"message": done.message, "example": done.example.to_dict()}

    def review_relabel(dataset: str, example_id: int, labels_csv: str, annotator: str = "",
                       request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Relabel a suspect (an annotation marked as a review; the label it has already: a confirmation).
        Returns {message, example}."""
        dataset, example_id = string(dataset, "dataset"), whole_number(example_id, "example_id", 1, MAX_ID)
        actor = ctx.actor(request, string(annotator, "annotator", optional=True))
        done = services.review.relabel(dataset, example_id, string(labels_csv, "labels_csv"), actor=actor)
        return {"message": done.message, "example": done.example.to_dict()}

    def review_undo(dataset: str, annotator: str = "", request: gr.Request = None) -> dict | None:  # type: ignore[assignment]
        """Take back your last review confirm or relabel: {message, example}, or null when there is none."""
        actor = ctx.actor(request, string(annotator, "annotator", optional=True))
        done = services.review.undo(string(dataset, "dataset"), actor=actor)
        return None if done is None else {"message": done.message, "example": done.example.to_dict()}

    gr.api(endpoint(ctx.anyone(datasets)), api_name="datasets")
    gr.api(endpoint(ctx.anyone(next_example)), api_name="next")
    gr.api(endpoint(ctx.anyone(next_with_options)), api_name="next_with_options")
    gr.api(endpoint(ctx.anyone(label)), api_name="label")
    gr.api(endpoint(ctx.anyone(label_with_suggestion)), api_name="label_with_suggestion")
    label_many.__doc__ = (label_many.__doc__ or "").replace("MAX_BULK_DOC", f"{MAX_BULK:,}")
    gr.api(endpoint(ctx.anyone(label_many)), api_name="label_many")
    gr.api(endpoint(ctx.anyone(stats)), api_name="stats")
    gr.api(endpoint(ctx.admin("train models")(train)), api_name="train")
    gr.api(endpoint(ctx.anyone(run)), api_name="run")
    gr.api(endpoint(ctx.anyone(models)), api_name="models")
    gr.api(endpoint(ctx.admin("adapt models")(adapt)), api_name="adapt")
    gr.api(endpoint(ctx.anyone(adapted)), api_name="adapted")
    gr.api(endpoint(ctx.anyone(suggest)), api_name="suggest")
    gr.api(endpoint(ctx.anyone(similar)), api_name="similar")
    gr.api(endpoint(ctx.anyone(suspects)), api_name="suspects")
    gr.api(endpoint(ctx.admin("check labels with fine-tunes")(check_labels)), api_name="check_labels")
    gr.api(endpoint(ctx.anyone(review_confirm)), api_name="review_confirm")
    gr.api(endpoint(ctx.anyone(review_relabel)), api_name="review_relabel")
    gr.api(endpoint(ctx.anyone(review_undo)), api_name="review_undo")
    gr.api(endpoint(ctx.anyone(audit)), api_name="audit")
    gr.api(endpoint(ctx.admin("change a dataset's audit sample")(set_audit_share)), api_name="set_audit_share")


def _run_view(run: dict[str, Any]) -> dict[str, Any]:
    return {k: run.get(k) for k in RUN_KEYS}
