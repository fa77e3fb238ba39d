"""The CLI: thin commands over the same services as the UI.

Every command takes `--db URL` and `--json`. Errors a user can fix (bad options included) print one
line to stderr and exit 2. Each command module registers its subcommands with `register(subparsers,
common)`; a handler is `handler(args, services) -> (text, json_payload)`. Output goes through
`common.terminal_text` / `terminal_json`: no control or bidi character reaches the terminal raw.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ftdemo import logs
from ftdemo.cli.common import Parser, ReportedError, terminal_json, terminal_text
from ftdemo.errors import FtdemoError

Handler = Callable[[argparse.Namespace, Any], tuple[str, Any]]


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", help="SQLAlchemy database URL (default: $FTDEMO_DB_URL or sqlite:///data/ftdemo.db)")
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    return common


def build_parser() -> argparse.ArgumentParser:
    from ftdemo.cli import (
        adapt_cmds,
        admin_cmds,
        agreement_cmds,
        assist_cmds,
        data_cmds,
        model_cmds,
        serve_cmd,
        train_cmds,
        users_cmd,
        worker_cmd,
    )

    parser = Parser(prog="python -m ftdemo", description="Label texts, fine-tune BERT classifiers, explain them.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common()
    for module in (serve_cmd, worker_cmd, data_cmds, train_cmds, adapt_cmds, model_cmds, assist_cmds, admin_cmds,
                   users_cmd, agreement_cmds):
        module.register(sub, common)
    return parser


def _services(args: argparse.Namespace) -> Any:
    from ftdemo.services import Services
    from ftdemo.settings import Settings

    return Services(Settings.from_env(db_url=args.db))


def _default(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return str(obj)


def main(argv: Sequence[str] | None = None) -> int:
    # Download/loading progress bars would interleave with our output; the CLI prints its own progress.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logs.configure(logging.WARNING)
    services = None
    args = None
    try:
        args = build_parser().parse_args(argv)
        handler: Handler = args.handler
        services = _services(args) if getattr(args, "needs_services", True) else None
        text, payload = handler(args, services)
    except ReportedError as err:
        _answer(args, err.text, err.payload)
        return _error(str(err))
    except FtdemoError as err:
        return _error(str(err))
    except FileNotFoundError as err:
        return _error(f"file not found: {err.filename or err}")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if services is not None:
            services.close()
    _answer(args, text, payload)
    return 0


def _answer(args: argparse.Namespace | None, text: str, payload: Any) -> None:
    if args is not None and args.json:
        print(terminal_json(payload, _default))
    elif text:
        print(terminal_text(text))


def _error(message: str) -> int:
    print(f"error: {terminal_text(message, one_line=True)}", file=sys.stderr)
    return 2
