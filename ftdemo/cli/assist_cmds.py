"""Model-assisted labelling from the command line: suggest, similar, suspects, check-labels (and the embeddings
they wait for).

The CLI has no background: it computes the embeddings that are missing before it answers, with a
progress line on stderr (the on-disk cache makes the next call instant).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ftdemo.cli.common import shown, terminal_text, whole_number


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("suggest", parents=[common],
                       help="the label(s) the model suggests for a text (instant model or fine-tuned version)")
    p.add_argument("name")
    p.add_argument("text")
    p.add_argument("--pair", help="the second text (sentence-pair datasets)")
    p.set_defaults(handler=suggest)

    p = sub.add_parser("similar", parents=[common], help="the examples nearest in meaning to a text")
    p.add_argument("name")
    p.add_argument("text")
    p.add_argument("--pair", help="the second text (sentence-pair datasets)")
    p.add_argument("--limit", type=whole_number(1, 500), default=10)
    p.add_argument("--filter", default="", help="only examples whose text contains this")
    p.set_defaults(handler=similar)

    p = sub.add_parser("suspects", parents=[common],
                       help="labels that are probably wrong (out-of-fold models + confident learning)")
    p.add_argument("name")
    p.add_argument("--limit", type=whole_number(1, 100_000), default=20)
    p.set_defaults(handler=suspects)

    p = sub.add_parser("check-labels", parents=[common],
                       help="fine-tune on k folds of the labels, each scoring the fold it left out, so the suspects "
                            "list uses fine-tunes too (minutes: k fine-tunes; synchronously), then list the suspects")
    p.add_argument("name")
    p.add_argument("--folds", type=whole_number(2, 10), default=5, help="fine-tunes, each leaving out one fold")
    p.add_argument("--base-model", help="hub id, local path, adapted checkpoint name (default: the app's base model)")
    p.add_argument("--epochs", type=whole_number(1, 100), help="epochs per fine-tune (default: chosen by the data)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--limit", type=whole_number(1, 100_000), default=20, help="suspects listed afterwards")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(handler=check_labels)


def wait_for_embeddings(sv: Any, name: str) -> Any:
    """Embed what the cache lacks, showing progress on stderr (only when there is something to do)."""
    shown_any = False

    def report(p: Any) -> None:
        nonlocal shown_any
        shown_any = True
        print(f"\rembedding examples with {terminal_text(p.model, one_line=True)}: {p.done}/{p.total}",
              end="", file=sys.stderr, flush=True)

    progress = sv.assist.ensure_embeddings(name, wait=True, on_progress=report)
    if shown_any:
        print(file=sys.stderr)
    return progress


def suggest(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    wait_for_embeddings(sv, args.name)
    found = sv.assist.suggest(args.name, text=args.text, text_pair=args.pair)
    if found is None:
        return (f"no suggestion yet: {shown(args.name)} has no model (label a few examples of each label, "
                "or train one)"), None
    top = ", ".join(f"{shown(lab)} {p:.2f}" for lab, p in sorted(found.probabilities.items(), key=lambda kv: -kv[1])[:5])
    return f"{shown(', '.join(found.labels) or '(no label)')}  (by {shown(found.model)}; {top})", found.to_dict()


def similar(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    wait_for_embeddings(sv, args.name)
    found = sv.assist.similar(args.name, text=args.text, text_pair=args.pair, limit=args.limit,
                              text_filter=args.filter)
    lines = [f"{f['score']:.3f} {f['id']:>6}  {shown(','.join(f['labels']) or '-'):<16} {shown(f['text'][:70])}"
             for f in found]
    return "\n".join(lines) or "no similar examples (is the dataset empty?)", found


SUSPECT_KEYS = ("id", "text", "text_pair", "given", "suggested", "probability", "confidence")


def suspects(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    wait_for_embeddings(sv, args.name)
    found = sv.review.suspects(args.name, limit=args.limit, wait=True)
    rows = [{k: x.to_dict()[k] for k in SUSPECT_KEYS} for x in found.suspects]
    lines = [f"{x['id']:>6}  {x['confidence']:.2f}  {shown(','.join(x['given'])):<12} -> "
             f"{shown(','.join(x['suggested']) or '-'):<12} {x['probability']:.2f}  {shown(x['text'][:60])}" for x in rows]
    head = (f"{len(rows)} suspects among {found.checked} labelled examples ({found.folds}-fold out-of-fold: "
            f"{shown(', '.join(found.models) or 'no model')}; embeddings of {shown(found.encoder)})")
    if found.note:
        head += f"; {found.note}"
    return "\n".join([head, *lines]), rows


def check_labels(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    from ftdemo.cli.train_cmds import stop_on_signals
    from ftdemo.errors import FtdemoError
    from ftdemo.jobs.runner import StopRequest
    from ftdemo.services import Actor

    options = {"folds": args.folds, "base_model": args.base_model, "epochs": args.epochs, "device": args.device}
    stop = StopRequest()
    with stop_on_signals(stop):
        run = sv.training.check_sync(args.name, options, actor=Actor.local("cli"), stop=stop,
                                     on_event=None if args.quiet else _fold_progress)
    if run["status"] == "interrupted":
        raise KeyboardInterrupt  # recorded as 'interrupted'; the CLI says so and exits 130
    if run["status"] != "succeeded":
        raise FtdemoError(f"check {run['status']}: {run['error'].splitlines()[0] if run['error'] else ''}")
    m = run["metrics"]
    text, rows = suspects(args, sv)
    done = (f"check run {run['id']}: {m['folds']} fine-tunes over {m['examples']} labelled examples, out-of-fold "
            f"accuracy {m['out_of_fold_accuracy']:.3f}")
    return f"{done}\n{text}", {"run_id": run["id"], "status": run["status"], "metrics": m, "suspects": rows}


def _fold_progress(event: Any) -> None:
    if event.kind == "end" and event.metrics and "fold" in event.metrics:
        print(f"  fold {event.metrics['fold']}/{event.metrics['folds']} fine-tuned in {event.elapsed_s:.0f} s",
              file=sys.stderr, flush=True)
