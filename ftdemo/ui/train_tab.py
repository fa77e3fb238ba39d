"""Train tab (admins only): the data a run would train on, settings, Train now, live progress with
loss and validation curves, cancel, the history of runs (where each trained), and retry of a run that
stopped before its end. Adapt starts an adaptation run (masked-LM training on the dataset's texts) in the
same way; its checkpoints join the base-model choices.

Everything on screen is read from the store: a gr.Timer polls services.training (every second
while any run is live, every few seconds otherwise), so a reloaded page or a second browser shows
the same live run. `Watch` only caches what this page has already read, to fetch new rows only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import pandas as pd

from ftdemo.errors import InvalidInputError
from ftdemo.services import Actor, Services
from ftdemo.services.training import where
from ftdemo.training.splits import MIN_PER_LABEL
from ftdemo.ui import html, plots
from ftdemo.ui.context import PRIVATE, UIContext, guard
from ftdemo.ui.train_form import (
    FIELDS,
    create_form,
    defaults,
    display_model,
    freeze_layers_update,
    model_choices,
    options_from_form,
)

LIVE_S, IDLE_S = 1.0, 5.0  # poll interval while a run is live / otherwise
HISTORY_LIMIT = 50
HISTORY_COLUMNS = ["run", "status", "version", "started (UTC)", "duration", "val macro-F1", "where", "error"]
RETRYABLE = ("failed", "cancelled", "interrupted")  # what Retry offers to run again (TrainingService.retry)
ERROR_CHARS = 90  # the table shows the start of an error; selecting the row shows all of it


@dataclass
class Watch:
    """Which run this page shows and the progress rows it has read so far (a cache of the store)."""

    dataset: str | None = None
    run_id: int | None = None
    latest_id: int = 0  # newest run of the dataset this page has seen: a newer one takes over the view
    after_id: int = 0  # last progress row read
    events: list[dict[str, Any]] = field(default_factory=list)
    shown: tuple = ()  # what the page shows; a poll that finds the same leaves the page alone
    status: str | None = None  # the watched run's status at the last poll


@dataclass
class TrainScreen:
    dataset: str | None = None
    run: dict[str, Any] | None = None  # the run on view (the newest, or one picked in the history)
    events: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    busy_elsewhere: dict[str, Any] | None = None  # a live run of another dataset (when one run at a time)
    interval: float = IDLE_S
    changed: bool = True
    picked: bool = False  # the user chose this run: open its details
    finished_now: bool = False  # the watched run ended since the last poll: the other tabs must refresh

    @property
    def live(self) -> bool:
        return self.busy_elsewhere is not None or any(r["status"] in plots.LIVE for r in self.history)


# --- logic -------------------------------------------------------------------------------------


def poll(services: Services, dataset: str | None, watch: Watch | None, *, run_id: int | None = None,
         force: bool = False, actor: Actor | None = None) -> tuple[Watch, TrainScreen]:
    """Read what changed since `watch` and say whether the page needs a redraw (runs as `actor` may read
    them: an annotator who posts this tab's events sees one-line errors)."""
    watch = watch if isinstance(watch, Watch) else Watch()
    if dataset != watch.dataset:
        watch, force = Watch(dataset=dataset), True
    if not dataset:
        changed, watch.shown = force or watch.shown != ("none",), ("none",)
        return watch, TrainScreen(changed=changed)
    history = services.training.runs(dataset, limit=HISTORY_LIMIT, actor=actor)
    latest = history[0]["id"] if history else 0
    target = run_id if run_id is not None else (latest if latest > watch.latest_id else watch.run_id)
    watch.latest_id = max(watch.latest_id, latest)
    if target != watch.run_id:
        watch.run_id, watch.after_id, watch.events = target, 0, []
    run = None
    if watch.run_id is not None:
        run = (next((r for r in history if r["id"] == watch.run_id), None)
               or services.training.run(watch.run_id, actor=actor))
        new = services.training.events(watch.run_id, watch.after_id)
        if new:
            watch.after_id = new[-1][0]
            watch.events.extend(payload for _, _, payload in new)
    live = services.training.live()
    mine = {r["id"] for r in history}
    elsewhere = next((r for r in live if r["id"] not in mine), None) if services.training.one_run_at_a_time else None
    interval = LIVE_S if live else IDLE_S
    shown = (watch.run_id, watch.after_id, tuple((r["id"], r["status"], r["cancel_requested"]) for r in history),
             elsewhere["id"] if elsewhere else None, interval)
    changed = force or shown != watch.shown
    watch.shown = shown
    status = run["status"] if run else None
    finished_now = watch.status in plots.LIVE and status not in plots.LIVE
    watch.status = status
    return watch, TrainScreen(dataset, run, list(watch.events), history, elsewhere, interval, changed,
                              picked=run_id is not None, finished_now=finished_now)


def start_run(services: Services, dataset: str | None, values: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Start a run with the form's settings (the service checks the role, the data and the options)."""
    if not dataset:
        raise InvalidInputError("choose a dataset first")
    return services.training.start(dataset, options_from_form(values), actor=actor)


def adapt_options(epochs: Any, whole_word: Any, max_texts: Any) -> dict[str, Any]:
    """The Adapt controls → AdaptConfig options (only what differs from the defaults)."""
    from ftdemo.training.adapt_config import AdaptConfig

    d = AdaptConfig()
    opts: dict[str, Any] = {}
    for name, value in (("epochs", epochs), ("max_texts", max_texts)):
        if value not in (None, ""):
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InvalidInputError(f"{name} must be a whole number, got {value!r}") from None
            if number != getattr(d, name):
                opts[name] = number
    if whole_word:
        opts["whole_word_mask"] = True
    return opts


def start_adapt(services: Services, dataset: str | None, options: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Start an adaptation run of the dataset's texts (the service checks the role and the options)."""
    if not dataset:
        raise InvalidInputError("choose a dataset first")
    return services.training.adapt(dataset, options, actor=actor)


def base_model_update(services: Services, dataset: str | None) -> dict[str, Any]:
    """The base-model box with the dataset's adapted checkpoints among its choices (its value left alone)."""
    adapted = services.training.adapted(dataset) if dataset else []
    return gr.update(choices=model_choices(services.settings.base_model, adapted))


def cancel_run(services: Services, watch: Watch | None, actor: Actor) -> dict[str, Any]:
    run_id = watch.run_id if isinstance(watch, Watch) else None
    if run_id is None:
        raise InvalidInputError("there is no run to cancel")
    return services.training.cancel(run_id, actor=actor)


def retry_run(services: Services, watch: Watch | None, actor: Actor) -> dict[str, Any]:
    """Run the watched run again (its data and settings) as a new run; the new run."""
    run_id = watch.run_id if isinstance(watch, Watch) else None
    if run_id is None:
        raise InvalidInputError("there is no run to retry; pick one in the history")
    return services.training.retry(run_id, actor=actor)


def data_summary(services: Services, dataset: str | None) -> str:
    """What a run started now would train on: labelled examples per label, and whether that is enough."""
    if not dataset:
        return html.empty(html.NO_DATASET)
    info, stats = services.datasets.info(dataset), services.datasets.stats(dataset)
    counts = {lab: stats.label_counts.get(lab, 0) for lab in info.labels}
    d = defaults()
    n_val = round(stats.labelled * d["val_fraction"])
    n_test = round(stats.labelled * d["test_fraction"])
    chips = "".join(f'<span class="ftd-chip{" ftd-chip-low" if n < MIN_PER_LABEL else ""}">{html.esc(lab)}<b>{n}</b>'
                    "</span>" for lab, n in counts.items())
    head = (f"<b>{stats.labelled}</b> labelled examples to train on"
            + (f" ({stats.unlabelled} unlabelled are left out, but Adapt and self-training use them)"
               if stats.unlabelled else "")
            + (f" · about {stats.labelled - n_val - n_test} train / {n_val} validation / {n_test} test"
               if stats.labelled else ""))
    short = [f"{lab} ({n})" for lab, n in counts.items() if n < MIN_PER_LABEL]
    if short:
        note = html.message(f"Not enough data to train yet: each label needs at least {MIN_PER_LABEL} labelled "
                            f"examples. Label more for: {', '.join(short)}.", error=True)
    elif stats.labelled < 50:
        note = html.message("Few examples: training will work, but expect a rough model and noisy metrics.")
    else:
        note = ""
    return f'<div class="ftd-snapshot"><div>{head}</div><div class="ftd-chips">{chips}</div>{note}</div>'


def history_frame(runs: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for r in runs:
        error = " ".join((r.get("error") or "").split())
        val = plots.split_metrics(r.get("metrics"), "validation")
        made = r.get("version") or ""
        if r.get("kind") == "adapt" and made:
            made = f"adapted {made}"
        elif r.get("kind") == "check":  # a fine-tune check of the labels: no version, out-of-fold probabilities
            folds = (r.get("metrics") or {}).get("folds")
            made = "label check" + (f" ({folds} folds)" if folds else "")
        rows.append([r["id"], r["status"], made, plots.fmt_time(r.get("started_at")
                                                                               or r.get("created_at")),
                     plots.fmt_duration(plots.run_duration(r)) if r.get("finished_at") else "",
                     plots.fmt_score(val.get("macro_f1")) if val else "", where(r),
                     error[:ERROR_CHARS] + ("…" if len(error) > ERROR_CHARS else "")])
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def run_details(run: dict[str, Any] | None) -> str:
    """Everything about one run: who, data, settings that differ from the defaults, results, full error."""
    if run is None:
        return ""
    adapting = run.get("kind") == "adapt"
    cfg = run.get("config") or {}
    if adapting:
        from ftdemo.training.adapt_config import AdaptConfig

        d = AdaptConfig().to_dict()
        changed = [f"{name} = {cfg[name]}" for name in d if name != "base_model" and name in cfg and cfg[name] != d[name]]
    else:
        d = defaults()
        changed = [f"{name} = {cfg[name]}" for name in FIELDS if name in cfg and cfg[name] != d[name]]
    counts = run.get("counts") or {}
    per_label = ", ".join(f"{lab} {n}" for lab, n in (counts.get("per_label") or {}).items())
    data = (f"{counts.get('examples', 0)} texts, labelled or not (adaptation: masked-LM training)" if adapting else
            f"{counts.get('examples', 0)} examples" + (f": {per_label}" if per_label else "")
            + (f"; {counts['pool']} unlabelled for self-training" if counts.get("pool") is not None else ""))
    rows = [("Started by", f"{run.get('created_by') or '—'} at {plots.fmt_time(run.get('created_at'))} UTC"),
            ("Data", data),
            ("Where", where(run) or "not started"),
            ("Base model", display_model(cfg.get("base_model") or "")),
            ("Settings", ", ".join(changed) or "the defaults")]
    timings = run.get("timings") or {}
    if timings:
        speed = timings.get("train_texts_per_s" if adapting else "train_examples_per_s", 0)
        rows.append(("Time", f"{plots.fmt_duration(timings.get('total_s'))} in all, "
                             f"{speed:,.0f} {'texts' if adapting else 'examples'}/s while training"))
    if adapting and run.get("metrics"):
        rows.append(("Masked LM", plots.adapt_scores(run.get("metrics"))))
    for split in ("validation", "test"):
        m = plots.split_metrics(run.get("metrics"), split)
        if m:
            rows.append((split.capitalize(), f"macro-F1 {plots.fmt_score(m.get('macro_f1'))}, accuracy "
                                             f"{plots.fmt_score(m.get('accuracy'))} on {m.get('n', '?')} examples"))
    decision = (run.get("progress") or {}).get("decision")
    if decision:
        rows.append(("Activation", ("activated: " if decision.get("active") else "not activated: ")
                     + str(decision.get("reason", ""))))
    table = "".join(f"<tr><th>{html.esc(k)}</th><td>{html.esc(v)}</td></tr>" for k, v in rows)
    error = f'<pre class="ftd-error">{html.esc(run["error"])}</pre>' if run.get("error") else ""
    return f'<div class="ftd-details"><table>{table}</table>{error}</div>'


# --- rendering -----------------------------------------------------------------------------------


def render(screen: TrainScreen, watch: Watch, e: dict[str, Any]) -> dict[Any, Any]:
    """Map a TrainScreen onto the tab's components (only the state when nothing changed)."""
    if not screen.changed:
        return {e["watch"]: watch}
    run = screen.run
    live_here = run is not None and run["status"] in plots.LIVE
    retryable = run is not None and run["status"] in RETRYABLE
    progress = plots.progress_html(run, screen.events) if screen.dataset else html.empty(html.NO_DATASET)
    if screen.busy_elsewhere is not None:
        progress = html.message(f"Run #{screen.busy_elsewhere['id']} of another dataset is training; one run at "
                                "a time, so Train now waits for it.") + progress
    title = f"Details of run #{run['id']}" if run else "Run details"
    return {
        e["progress"]: progress,
        e["loss_plot"]: plots.loss_chart(screen.events),
        e["metric_plot"]: plots.metric_chart(screen.events),
        e["history"]: history_frame(screen.history),
        e["details_box"]: gr.update(label=title, visible=run is not None, **({"open": True} if screen.picked else {})),
        e["details"]: run_details(run),
        e["train"]: gr.update(interactive=bool(screen.dataset) and not screen.live),
        e["adapt"]: gr.update(interactive=bool(screen.dataset) and not screen.live),
        e["cancel"]: gr.update(visible=live_here, interactive=live_here and not run.get("cancel_requested")),
        e["retry"]: gr.update(visible=retryable, interactive=retryable and not screen.live),
        e["timer"]: gr.update(value=screen.interval),
        e["watch"]: watch,
    }


# --- layout and wiring ---------------------------------------------------------------------------


def create_train_tab(ctx: UIContext) -> dict[str, Any]:
    services = ctx.services
    # Hidden until the page load finds an admin (ctx.admin_only): gradio can show a hidden tab later, but an
    # update does not hide a tab that started visible.
    with gr.Tab("Train", id="train", visible=False) as tab:
        snapshot = gr.HTML(html.empty(html.NO_DATASET), elem_id="ftd-train-snapshot")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                form = create_form(services.settings.base_model)
                with gr.Row():
                    train = gr.Button("Train now", variant="primary", elem_id="ftd-train-start")
                    cancel = gr.Button("Cancel run", variant="stop", visible=False, elem_id="ftd-train-cancel")
                    retry = gr.Button("Retry run", visible=False, elem_id="ftd-train-retry")
                with gr.Accordion("Adapt the base model to this dataset's texts", open=False,
                                  elem_id="ftd-adapt-box"):
                    gr.Markdown("Masked-language-model training on every text of the dataset, labelled or not "
                                "(15% of the tokens hidden and predicted, as in BERT's pre-training). The adapted "
                                "checkpoint then appears among the base models above.")
                    adapt_epochs = gr.Slider(1, 10, value=1, step=1, label="Passes over the texts",
                                             elem_id="ftd-adapt-epochs")
                    adapt_max_texts = gr.Number(value=0, precision=0, label="At most this many texts (0 = all)",
                                                elem_id="ftd-adapt-max-texts")
                    adapt_wwm = gr.Checkbox(value=False, label="Mask whole words", elem_id="ftd-adapt-wwm")
                    adapt = gr.Button("Adapt", elem_id="ftd-adapt-start")
                message = gr.HTML(elem_id="ftd-train-msg")
            with gr.Column(scale=3, min_width=400):
                progress = gr.HTML(plots.progress_html(None, []), elem_id="ftd-train-progress")
                loss_plot = gr.HTML(plots.loss_chart([]), elem_id="ftd-train-loss")
                metric_plot = gr.HTML(plots.metric_chart([]), elem_id="ftd-train-metrics")
        gr.Markdown("#### Run history")
        history = gr.Dataframe(history_frame([]), interactive=False, wrap=True, max_height=320,
                               elem_id="ftd-train-history", elem_classes="ftd-table", show_label=False)
        with gr.Accordion("Run details", open=False, visible=False) as details_box:
            details = gr.HTML(elem_id="ftd-train-details")
        timer = gr.Timer(IDLE_S)
        watch = gr.State(Watch())
    ctx.admin_only.append(tab)
    e: dict[str, Any] = dict(tab=tab, snapshot=snapshot, form=form, train=train, adapt=adapt, cancel=cancel, retry=retry,
                             message=message, progress=progress, loss_plot=loss_plot, metric_plot=metric_plot,
                             history=history, details_box=details_box, details=details, timer=timer, watch=watch)
    outputs = [progress, loss_plot, metric_plot, history, details_box, details, train, adapt, cancel, retry, timer, watch]
    base_box = form["base_model"]
    form_names = list(form)

    @guard(message)
    @ctx.anyone
    def on_show(dataset: str | None, watch_: Watch, request: gr.Request) -> dict:
        new, screen = poll(services, dataset, watch_, force=True, actor=ctx.actor(request, None))
        return {**render(screen, new, e), snapshot: data_summary(services, dataset), message: "",
                base_box: base_model_update(services, dataset)}

    @guard()
    @ctx.anyone
    def on_tick(dataset: str | None, watch_: Watch, bump: int, request: gr.Request) -> dict:
        new, screen = poll(services, dataset, watch_, actor=ctx.actor(request, None))
        out = render(screen, new, e)
        if screen.changed and screen.run and screen.run["status"] not in plots.LIVE:
            out[snapshot] = data_summary(services, dataset)  # a run just ended: labels may have moved on
        if screen.finished_now:  # a new version may be live: the Predict and Models tabs show it at once
            out[ctx.refresh] = (bump or 0) + 1
            if screen.run and screen.run["status"] == "succeeded" and screen.run.get("kind") == "adapt":
                out[base_box] = base_model_update(services, dataset)  # a new base to choose
            elif screen.run and screen.run["status"] == "succeeded":
                services.predict.warm(dataset)
        return out

    @guard(message)
    @ctx.admin("train models")
    def on_train(dataset: str | None, name: str, watch_: Watch, request: gr.Request, *values: Any) -> dict:
        # request sits before *values: gradio injects it by position among the positional parameters
        run = start_run(services, dataset, dict(zip(form_names, values)), ctx.actor(request, name))
        new, screen = poll(services, dataset, watch_, run_id=run["id"], force=True)
        screen.picked = False
        note = f"Run #{run['id']} started on {run['counts'].get('examples', 0)} examples."
        return {**render(screen, new, e), snapshot: data_summary(services, dataset), message: html.message(note)}

    @guard(message)
    @ctx.admin("adapt models")
    def on_adapt(dataset: str | None, name: str, watch_: Watch, epochs: Any, max_texts: Any, whole_word: bool,
                 request: gr.Request) -> dict:
        run = start_adapt(services, dataset, adapt_options(epochs, whole_word, max_texts), ctx.actor(request, name))
        new, screen = poll(services, dataset, watch_, run_id=run["id"], force=True)
        screen.picked = False
        note = f"Run #{run['id']} started: adapting the base model to {run['counts'].get('examples', 0)} texts."
        return {**render(screen, new, e), message: html.message(note)}

    @guard(message)
    @ctx.admin("cancel training")
    def on_cancel(dataset: str | None, name: str, watch_: Watch, request: gr.Request) -> dict:
        run = cancel_run(services, watch_, ctx.actor(request, name))
        new, screen = poll(services, dataset, watch_, force=True)
        return {**render(screen, new, e), message: html.message(f"Cancelling run #{run['id']}…")}

    @guard(message)
    @ctx.admin("retry training runs")
    def on_retry(dataset: str | None, name: str, watch_: Watch, request: gr.Request) -> dict:
        old = watch_.run_id if isinstance(watch_, Watch) else None
        run = retry_run(services, watch_, ctx.actor(request, name))
        new, screen = poll(services, dataset, watch_, run_id=run["id"], force=True)
        screen.picked = False
        note = f"Run #{run['id']} started: run #{old} again, on the same data with the same settings."
        return {**render(screen, new, e), message: html.message(note)}

    @guard(message)
    @ctx.anyone
    def on_pick(dataset: str | None, watch_: Watch, evt: gr.SelectData, request: gr.Request) -> dict:
        row = evt.row_value or []
        if not dataset or not row:
            return {}
        new, screen = poll(services, dataset, watch_, run_id=int(row[0]), force=True, actor=ctx.actor(request, None))
        return render(screen, new, e)

    quiet = dict(show_progress="hidden", **PRIVATE)
    for trigger in (ctx.dataset.change, tab.select, ctx.refresh.change):
        trigger(on_show, [ctx.dataset, watch], [*outputs, snapshot, message, base_box], **quiet)
    timer.tick(on_tick, [ctx.dataset, watch, ctx.refresh], [*outputs, snapshot, ctx.refresh, base_box],
               trigger_mode="once", **quiet)
    train.click(on_train, [ctx.dataset, ctx.annotator, watch, *form.values()], [*outputs, snapshot, message],
                trigger_mode="once", **quiet)
    cancel.click(on_cancel, [ctx.dataset, ctx.annotator, watch], [*outputs, message], **quiet)
    adapt.click(on_adapt, [ctx.dataset, ctx.annotator, watch, adapt_epochs, adapt_max_texts, adapt_wwm],
                [*outputs, message], trigger_mode="once", **quiet)
    retry.click(on_retry, [ctx.dataset, ctx.annotator, watch], [*outputs, message], trigger_mode="once", **quiet)
    history.select(on_pick, [ctx.dataset, watch], [*outputs, message], **quiet)
    @ctx.anyone
    def on_base_model(choice: str, current: int) -> Any:
        """The freeze slider goes only as deep as the chosen base model (read from its config.json)."""
        return freeze_layers_update(choice, current, services.settings.base_model)

    form["base_model"].change(on_base_model, [form["base_model"], form["freeze_layers"]], [form["freeze_layers"]],
                              **quiet)
    return e

