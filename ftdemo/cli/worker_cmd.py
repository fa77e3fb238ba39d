"""`worker`: a training worker on this machine, for an app that queues runs (FTDEMO_TRAINING=workers).

It needs the app's database (`--db` / FTDEMO_DB_URL: PostgreSQL across machines) and its models directory
(FTDEMO_MODELS_DIR, e.g. a shared mount); see ftdemo/jobs/worker.py for what it does with them.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, e.g. 2, got {text[:40]!r}") from None
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be from 0.1 to 3600 seconds, got {text[:40]}")
    return value


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from ftdemo.jobs.worker import DEVICES, POLL_S

    p = sub.add_parser("worker", parents=[common],
                       help="train the runs an app queued (FTDEMO_TRAINING=workers) on this machine, until stopped")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="where to train: auto (a run's own setting: CUDA when there is one), cpu, cuda")
    p.add_argument("--once", action="store_true",
                   help="train one queued run, then exit (at once, with exit code 0, when none is queued)")
    p.add_argument("--poll-s", type=_seconds, default=POLL_S, metavar="S",
                   help=f"look for queued runs every S seconds while idle (default {POLL_S:g})")
    p.set_defaults(handler=worker)


def worker(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    from ftdemo.cli.train_cmds import outcome, stop_on_signals
    from ftdemo.jobs.runner import StopRequest
    from ftdemo.jobs.worker import Worker

    logging.getLogger("ftdemo").setLevel(logging.INFO)  # a long-running process: its log is its output
    stop = StopRequest()
    settings = sv.settings
    w = Worker(sv.db, settings.models_dir, device=args.device, margin=settings.activation_margin,
               poll_s=args.poll_s, lease_s=settings.run_lease_s, stop=stop)
    logging.getLogger(__name__).info("worker %s trains on %s", w.name, w.check_device())
    with stop_on_signals(stop):
        done = w.serve(once=args.once)
    if args.once:
        if not done:
            return "no queued training runs", {"worker": w.name, "run_id": None}
        text, payload = outcome(done[0])
        return f"run #{done[0]['id']} on {w.name}: {text}", {**payload, "worker": w.name}
    summary = ", ".join(f"#{r['id']} {r['status']}" for r in done) or "none"
    return f"worker {w.name} stopped; runs trained: {summary}", {"worker": w.name,
                                                                   "runs": [{"run_id": r["id"], "status": r["status"],
                                                                             "version": r["version"] or None}
                                                                            for r in done]}
