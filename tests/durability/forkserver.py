"""A pre-warmed launcher for `python -m ftdemo serve` (run as a script by test_kill9.py).

Importing gradio is most of the app's start-up (~5 of ~6 s on 2 cores) and tells nothing about
durability, so this process imports the app once and then forks one app process per request. Each
child runs exactly what `python -m ftdemo serve` runs from `ftdemo.cli.main` on, in its own session
(process group), with its own environment, log and database connections; the test SIGKILLs it.

Protocol, one line each way: `spawn {"env": {...}, "log": PATH}` -> pid; `wait PID` -> exit status
(negative: killed by that signal, as in subprocess).
"""

from __future__ import annotations

import json
import os
import sys
import threading

import ftdemo.ui.app  # noqa: F401  the slow import, paid once
from ftdemo.cli import main


def _spawn(env: dict[str, str], log: str) -> int:
    assert threading.active_count() == 1, "fork only from a single-threaded process"
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: become the app
        os.setsid()
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.environ.update(env)
        code = main(["serve"])
    except BaseException:  # noqa: BLE001 - report anything, never return into the parent's loop
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve_requests() -> None:
    print("ready", flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "spawn":
            req = json.loads(arg)
            print(_spawn(req["env"], req["log"]), flush=True)
        elif command == "wait":
            _, status = os.waitpid(int(arg), 0)
            print(-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status), flush=True)


if __name__ == "__main__":
    serve_requests()
