"""Training and model commands: train, train-file, runs, retry, models, activate, rollback, eval."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Iterator
from typing import Any

from ftdemo.cli.common import MAX_INT64, option_range, shown, whole_number
from ftdemo.models.selection import describe_accuracy
from ftdemo.services import Actor
from ftdemo.training.config import MAX_BATCH, MAX_EPOCHS


def _train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-model", help="hub id, local path, an adapted checkpoint of the dataset (a0001, see "
                   "`adapted`), or empty for the bundled all-MiniLM-L6-v2")
    p.add_argument("--epochs", type=option_range("epochs"), help=f"passes over the data, 0-{MAX_EPOCHS} (0: automatic)")
    p.add_argument("--batch-size", type=option_range("batch_size"), help=f"examples per batch, 1-{MAX_BATCH}")
    p.add_argument("--lr", type=float, help="peak learning rate, between 0 and 1 (e.g. 1e-4)")
    p.add_argument("--max-length", type=option_range("max_length"), help="truncate texts to this many tokens, 8-8192")
    p.add_argument("--seed", type=option_range("seed"), help="0-4294967295")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {"base_model": args.base_model, "epochs": args.epochs, "batch_size": args.batch_size,
            "learning_rate": args.lr, "max_length": args.max_length, "seed": args.seed, "device": args.device,
            "self_training_rounds": getattr(args, "self_training_rounds", None)}


def _progress(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    if args.quiet:
        return None

    def show(event: Any) -> None:
        if event.kind == "step":
            print(f"  epoch {event.epoch}/{event.epochs} step {event.step}/{event.total_steps} loss {event.loss:.4f} "
                  f"{event.examples_per_s or 0:.0f} ex/s eta {event.eta_s or 0:.0f}s", file=sys.stderr)
        elif event.kind == "epoch" and event.metrics:
            m = event.metrics
            print(f"  epoch {event.epoch}: validation accuracy {m.get('accuracy', 0):.4f} "
                  f"macro-F1 {m.get('macro_f1', 0):.4f}", file=sys.stderr)

    return show


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("train", parents=[common], help="fine-tune on a dataset's current labels (synchronously)")
    p.add_argument("name")
    _train_options(p)
    p.add_argument("--self-training-rounds", type=option_range("self_training_rounds"),
                   help="rounds of self-training on the dataset's unlabelled texts, 0-10 (default 0: off)")
    p.set_defaults(handler=train)

    p = sub.add_parser("train-file", parents=[common], help="train straight from a labelled file, no database")
    p.add_argument("train_file")
    p.add_argument("--out", required=True, help="directory to write the model version into")
    p.add_argument("--task", default="single_label", choices=["single_label", "multi_label", "pair"])
    p.add_argument("--text-col")
    p.add_argument("--pair-col")
    p.add_argument("--label-col")
    _train_options(p)
    p.set_defaults(handler=train_file, needs_services=False)

    p = sub.add_parser("runs", parents=[common], help="training runs of a dataset, and where each trains")
    p.add_argument("name")
    p.set_defaults(handler=runs)

    p = sub.add_parser("retry", parents=[common],
                       help="train a failed, cancelled or interrupted run again (same data and settings)")
    p.add_argument("run_id", type=whole_number(1, MAX_INT64))
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(handler=retry)

    p = sub.add_parser("models", parents=[common], help="model versions of a dataset")
    p.add_argument("name")
    p.set_defaults(handler=models)

    p = sub.add_parser("prune", parents=[common],
                       help="delete a dataset's model versions but the active one, the previous one and the last K")
    p.add_argument("name")
    p.add_argument("--keep", type=whole_number(0, 1000), required=True, help="recent versions to keep besides those two")
    p.set_defaults(handler=prune)

    p = sub.add_parser("activate", parents=[common], help="make a model version the active one")
    p.add_argument("name")
    p.add_argument("version")
    p.set_defaults(handler=activate)

    p = sub.add_parser("rollback", parents=[common], help="re-activate the previously active version")
    p.add_argument("name")
    p.set_defaults(handler=rollback)

    p = sub.add_parser("eval", parents=[common], help="evaluate the active model on a labelled file")
    p.add_argument("name")
    p.add_argument("file")
    p.add_argument("--version", help="a version other than the active one")
    p.add_argument("--text-col")
    p.add_argument("--pair-col")
    p.add_argument("--label-col")
    p.set_defaults(handler=evaluate)


def _result_payload(run: dict[str, Any]) -> dict[str, Any]:
    decision = run.get("progress", {}).get("decision", {})
    pick = lambda m: {k: m.get(k) for k in ("accuracy", "macro_f1", "micro_f1", "n") if k in m}  # noqa: E731
    metrics = run.get("metrics") or {}
    return {"run_id": run["id"], "status": run["status"], "version": run.get("version") or None,
            "active": bool(decision.get("active")), "reason": decision.get("reason", ""),
            "metrics": {"validation": pick(metrics.get("validation") or {}), "test": pick(metrics.get("test") or {})},
            "timings": run.get("timings", {}), "error": run.get("error", "")}


@contextlib.contextmanager
def stop_on_signals(stop: Any) -> Iterator[None]:
    """Ctrl-C or SIGTERM asks the run to stop (it ends within a batch, recorded as 'interrupted');
    a second Ctrl-C stops at once (the run is still recorded as 'interrupted')."""
    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        print("stopping after the current batch (Ctrl-C again to stop at once)", file=sys.stderr)
        stop.request("interrupted (Ctrl-C)" if signum == signal.SIGINT else "stopped (SIGTERM)")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def train(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    from ftdemo.jobs.runner import StopRequest

    stop = StopRequest()
    with stop_on_signals(stop):
        run = sv.training.train_sync(args.name, _options(args), actor=Actor.local("cli"), on_event=_progress(args),
                                     stop=stop)
    return outcome(run)


def outcome(run: dict[str, Any]) -> tuple[str, Any]:
    """A run this process trained, as the CLI reports it (train, retry, worker --once): the version and its
    scores; a run that did not succeed exits 2 with its error, an interrupted one 130."""
    from ftdemo.errors import FtdemoError

    if run["status"] == "interrupted":
        raise KeyboardInterrupt  # the run is recorded; the CLI says "interrupted" and exits 130
    payload = _result_payload(run)
    if run["status"] != "succeeded":
        raise FtdemoError(f"training {run['status']}: {run['error'].splitlines()[0] if run['error'] else ''}")
    v, t = payload["metrics"]["validation"], payload["metrics"]["test"]
    text = (f"{payload['version']} {'is now active' if payload['active'] else 'kept as a candidate'}"
            f" ({payload['reason']})\n  validation accuracy {v.get('accuracy', 0):.4f} macro-F1 {v.get('macro_f1', 0):.4f}"
            f"\n  test       accuracy {t.get('accuracy', 0) or 0:.4f} macro-F1 {t.get('macro_f1', 0) or 0:.4f}")
    return text, payload


def train_file(args: argparse.Namespace, _sv: Any) -> tuple[str, Any]:
    from ftdemo.training.from_file import train_from_file

    out = train_from_file(args.train_file, args.out, task=args.task, text_col=args.text_col, pair_col=args.pair_col,
                          label_col=args.label_col, options=_options(args), on_event=_progress(args))
    v, t = out["metrics"]["validation"], out["metrics"]["test"]
    return (f"saved to {out['path']}\n  validation accuracy {v.get('accuracy', 0):.4f} macro-F1 {v.get('macro_f1', 0):.4f}"
            f"\n  test       accuracy {t.get('accuracy', 0) or 0:.4f} macro-F1 {t.get('macro_f1', 0) or 0:.4f}"), out


def runs(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    from ftdemo.services.training import where

    items = sv.training.runs(args.name)
    lines = [f"#{r['id']:<4} {r['status']:<12} {r['version'] or '-':<7} {r['created_at']}  "
             f"{shown(where(r) or '-'):<24} {shown(r['error'][:60])}" for r in items]
    return "\n".join(lines) or "no training runs yet", items


def retry(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    """With FTDEMO_TRAINING=workers the retry is queued for a worker; else this process trains it, like train."""
    from ftdemo.jobs.runner import StopRequest
    from ftdemo.services.training import where

    if sv.training.workers:
        run = sv.training.retry(args.run_id, actor=Actor.local("cli"))
        return f"run #{run['id']} queued (a retry of run #{args.run_id}): {where(run) or run['status']}", run
    stop = StopRequest()
    with stop_on_signals(stop):
        run = sv.training.retry_sync(args.run_id, actor=Actor.local("cli"), on_event=_progress(args), stop=stop)
    text, payload = outcome(run)
    return f"run #{run['id']} (a retry of run #{args.run_id}): {text}", payload


def models(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    items = sv.models.list(args.name)
    lines = []
    for m in items:
        val = (m.get("metrics") or {}).get("validation") or {}
        lines.append(f"{m['version']:<7} {'ACTIVE' if m['active'] else m['status']:<10} "
                     f"val macro-F1 {val.get('macro_f1', 0):.4f} acc {val.get('accuracy', 0):.4f}  {shown(m['reason'])}")
        if (m.get("comparison") or {}).get("words"):
            lines.append(f"        compared when trained: {shown(m['comparison']['words'])}")
        if audit := describe_accuracy(m.get("audit")):
            lines.append(f"        audit accuracy {audit}")
    if items:
        lines.append(f"{items[0]['dataset_disk_mb']:.1f} MB on disk for {len(items)} version(s); "
                     f"`python -m ftdemo prune {args.name} --keep K` deletes old ones")
    return "\n".join(lines) or "no model versions yet: run `python -m ftdemo train NAME`", items


def prune(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    out = sv.models.prune(args.name, args.keep, actor=Actor.local("cli"))
    text = (f"deleted {len(out['deleted'])} version(s) of {args.name}"
            f"{' (' + ', '.join(out['deleted']) + ')' if out['deleted'] else ''}, freed {out['freed_mb']:.1f} MB; "
            f"kept {', '.join(out['kept']) or 'none'} ({out['disk_mb']:.1f} MB on disk)")
    return text, out


def activate(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    out = sv.models.activate(args.name, args.version, actor=Actor.local("cli"))
    return f"{out['version']} is now active for {args.name}", out


def rollback(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    out = sv.models.rollback(args.name, actor=Actor.local("cli"))
    return f"rolled back: {out['version']} is active again for {args.name}", out


def evaluate(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    out = sv.models.evaluate(args.name, args.file, version=args.version, text_col=args.text_col,
                             pair_col=args.pair_col, label_col=args.label_col)
    text = f"{out['version']} on {out['n']} examples: accuracy {out['accuracy']:.4f} macro-F1 {out['macro_f1']:.4f}\n"
    text += "confusion matrix (rows: true, columns: predicted; " + ", ".join(out["labels"]) + ")\n"
    text += "\n".join("  " + " ".join(f"{c:>5}" for c in row) for row in out["confusion_matrix"])
    return text, out
