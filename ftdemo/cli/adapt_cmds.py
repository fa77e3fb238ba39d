"""Adaptation commands: adapt (masked-LM training on a dataset's texts), adapted (list the checkpoints)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ftdemo.cli.common import shown, whole_number
from ftdemo.services import Actor
from ftdemo.training.adapt_config import ADAPT_RANGES


def _adapt_range(name: str) -> Any:
    allowed = ADAPT_RANGES[name]
    return whole_number(int(allowed.low), int(allowed.high))


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("adapt", parents=[common],
                       help="adapt the base model to a dataset's texts (masked-LM training; synchronously)")
    p.add_argument("name")
    p.add_argument("--epochs", type=_adapt_range("epochs"), help="passes over the texts, 1-50 (default 1)")
    p.add_argument("--base-model", help="hub id, local path, or empty for the bundled all-MiniLM-L6-v2")
    p.add_argument("--lr", type=float, help="peak learning rate, between 0 and 1 (default 1e-4)")
    p.add_argument("--max-length", type=_adapt_range("max_length"), help="truncate texts to this many tokens")
    p.add_argument("--max-texts", type=_adapt_range("max_texts"), help="train on at most this many texts (0: all)")
    p.add_argument("--whole-word-mask", action="store_true", help="mask whole words instead of word pieces")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(handler=adapt)

    p = sub.add_parser("adapted", parents=[common], help="adapted checkpoints of a dataset (bases for fine-tuning)")
    p.add_argument("name")
    p.set_defaults(handler=adapted)


def _progress(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    if args.quiet:
        return None

    def show(event: Any) -> None:
        if event.kind == "step":
            print(f"  epoch {event.epoch}/{event.epochs} step {event.step}/{event.total_steps} masked-LM loss "
                  f"{event.loss:.4f} {event.examples_per_s or 0:.0f} texts/s eta {event.eta_s or 0:.0f}s", file=sys.stderr)

    return show


def adapt(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    from ftdemo.cli.train_cmds import stop_on_signals
    from ftdemo.errors import FtdemoError
    from ftdemo.jobs.runner import StopRequest

    options = {"epochs": args.epochs, "base_model": args.base_model, "learning_rate": args.lr,
               "max_length": args.max_length, "max_texts": args.max_texts, "device": args.device,
               "whole_word_mask": True if args.whole_word_mask else None}
    stop = StopRequest()
    with stop_on_signals(stop):
        run = sv.training.adapt_sync(args.name, options, actor=Actor.local("cli"), on_event=_progress(args), stop=stop)
    if run["status"] == "interrupted":
        raise KeyboardInterrupt  # recorded as 'interrupted'; the CLI says so and exits 130
    if run["status"] != "succeeded":
        raise FtdemoError(f"adaptation {run['status']}: {run['error'].splitlines()[0] if run['error'] else ''}")
    item = next(a for a in sv.training.adapted(args.name) if a["name"] == run["version"])
    payload = {"run_id": run["id"], "status": run["status"], "adapted": item["name"], "path": item["path"],
               "metrics": run["metrics"], "timings": run["timings"]}
    return f"{item['name']} saved: {_scores(item)}\n  fine-tune from it: python -m ftdemo train {args.name} " \
           f"--base-model {item['name']}", payload


def adapted(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    items = sv.training.adapted(args.name)
    lines = [f"{a['name']}  {a['created_at']}  {a['texts'] or 0} texts  {_scores(a)}  {shown(a['path'])}" for a in items]
    return "\n".join(lines) or f"no adapted checkpoints yet: run `python -m ftdemo adapt {args.name}`", items


def _scores(item: dict[str, Any]) -> str:
    """Masked-LM loss and accuracy on held-out texts, before -> after."""
    before, after = (item.get("metrics") or {}).get("before") or {}, (item.get("metrics") or {}).get("after") or {}
    if not before.get("masked_tokens"):
        return "no held-out texts measured"
    return (f"held-out masked-LM loss {before['loss']:.3f} -> {after['loss']:.3f}, "
            f"accuracy {before['accuracy']:.3f} -> {after['accuracy']:.3f}")
