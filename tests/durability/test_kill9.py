"""kill -9 of the real app during bursts of label writes: no acknowledged label is ever lost.

Each round starts the app as its own process, lets four HTTP clients label through the /label API
endpoint as fast as they can, and SIGKILLs the server after a random number of acknowledgements, with
requests still in flight. Then the database is opened with the services: every label a client saw
acknowledged must be there, nothing that was never sent may be, nothing twice, and SQLite's integrity
check must pass. The next round starts the app on the file the killed one left (hot WAL).

Round 1 runs `python -m ftdemo serve` cold. Later rounds fork the same `ftdemo.cli.main(["serve"])` from
a process that imported the app already (forkserver.py): the gradio import is most of a start and says
nothing about durability, and skipping it 19 times halves the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ftdemo.processes import pid_alive
from ftdemo.services import Actor, Services
from ftdemo.settings import Settings
from ftdemo.store import repo

pytestmark = pytest.mark.slow  # 20 app starts and kills: ~90 CPU-seconds, 2.3 min on 2 cores at load average 6

REPO = Path(__file__).resolve().parents[2]
ROUNDS = 20
WRITERS = 4
EXAMPLES = 60  # more than a writer labels in one round
DATASET = "burst"
LABELS = ("pos", "neg")
START_TIMEOUT_S = 120


@dataclass
class Round:
    """What the clients saw in one round; a write is (annotator, example id, label)."""

    number: int
    sent: set[tuple[str, int, str]] = field(default_factory=set)
    acked: set[tuple[str, int, str]] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)  # failures while the server was alive
    startup_s: float = 0.0
    startup_cpu_s: float = 0.0  # CPU time of the start: what it would take on an idle machine
    burst_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Launcher:
    """Starts app processes on one data dir: the first cold, as `python -m ftdemo serve`; later ones forked
    from forkserver.py, which has the app imported already and runs the same `ftdemo.cli.main(["serve"])`."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.data_dir, self.log_path = data_dir, log_path
        self._cold: dict[int, subprocess.Popen] = {}
        self._forkserver: subprocess.Popen | None = None

    def _env(self, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FTDEMO_")}
        env.update(FTDEMO_DATA_DIR=str(self.data_dir), FTDEMO_PORT=str(port), FTDEMO_HOST="127.0.0.1",
                   FTDEMO_SEED_DEMO="0", FTDEMO_RETRAIN_EVERY="0", PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1",
                   GRADIO_ANALYTICS_ENABLED="False")
        return env

    def _ask(self, line: str) -> str:
        assert self._forkserver is not None and self._forkserver.stdin and self._forkserver.stdout
        self._forkserver.stdin.write(line + "\n")
        self._forkserver.stdin.flush()
        answer = self._forkserver.stdout.readline().strip()
        assert answer, f"the fork server died:\n{self.log_path.read_text()[-3000:]}"
        return answer

    def start(self, *, cold: bool) -> tuple[int, str]:
        port = _free_port()
        env = self._env(port)
        if cold:
            with open(self.log_path, "ab") as log:
                proc = subprocess.Popen([sys.executable, "-m", "ftdemo", "serve"], env=env, cwd=self.data_dir.parent,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self._cold[proc.pid] = proc
            return proc.pid, f"http://127.0.0.1:{port}/"
        self.prewarm()
        return int(self._ask("spawn " + json.dumps({"env": env, "log": str(self.log_path)}))), \
            f"http://127.0.0.1:{port}/"

    def prewarm(self) -> float:
        """Start the fork server (imports the app); returns how long that took."""
        t0 = time.monotonic()
        if self._forkserver is None:
            with open(self.log_path, "ab") as log:
                self._forkserver = subprocess.Popen(
                    [sys.executable, str(Path(__file__).with_name("forkserver.py"))], env=self._env(0),
                    cwd=self.data_dir.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
            assert self._forkserver.stdout and self._forkserver.stdout.readline().strip() == "ready"
        return time.monotonic() - t0

    def alive(self, pid: int) -> bool:
        return self._cold[pid].poll() is None if pid in self._cold else pid_alive(pid)

    def wait(self, pid: int) -> int:
        """The exit status (negative: killed by that signal)."""
        if pid in self._cold:
            return self._cold.pop(pid).wait(timeout=30)
        return int(self._ask(f"wait {pid}"))

    def close(self) -> None:
        if self._forkserver is not None:
            self._forkserver.stdin.close()  # type: ignore[union-attr]
            self._forkserver.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _wait_ready(app: Launcher, pid: int, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not app.alive(pid):
            pytest.fail(f"the app exited at start:\n{app.log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url + "gradio_api/info", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    pytest.fail(f"the app did not answer within {START_TIMEOUT_S} s:\n{app.log_path.read_text()[-3000:]}")


def _label(client: httpx.Client, url: str, example_id: int, label: str, annotator: str) -> dict:
    """One /label call over gradio's HTTP API: POST the call, then read its result event."""
    resp = client.post(url + "gradio_api/call/label", json={"data": [DATASET, example_id, label, annotator]})
    resp.raise_for_status()
    events = client.get(url + f"gradio_api/call/label/{resp.json()['event_id']}").text
    kind, _, data = events.partition("\ndata: ")
    if kind.strip() != "event: complete":
        raise RuntimeError(f"/label answered {events.strip()!r}")
    return json.loads(data.splitlines()[0])[0]


def _writer(rnd: Round, url: str, slot: int, killed: threading.Event) -> None:
    annotator = f"r{rnd.number:02d}w{slot}"
    with httpx.Client(timeout=30) as client:
        for example_id in range(1, EXAMPLES + 1):
            write = (annotator, example_id, LABELS[(example_id + slot + rnd.number) % 2])
            with rnd.lock:
                rnd.sent.add(write)  # sent = possibly committed, even if the answer never comes
            try:
                result = _label(client, url, example_id, write[2], annotator)
            except Exception as err:  # noqa: BLE001 - after the kill every failure is expected
                if not killed.is_set():
                    with rnd.lock:
                        rnd.errors.append(f"{write}: {err!r}")
                return
            with rnd.lock:
                if result["id"] != example_id:
                    rnd.errors.append(f"{write}: /label answered for example {result['id']}")
                    return
                rnd.acked.add(write)
        with rnd.lock:
            rnd.errors.append(f"{annotator} ran out of examples before the kill")


def _run_round(rnd: Round, app: Launcher, kill_after: int) -> None:
    t0 = time.monotonic()
    pid, url = app.start(cold=rnd.number == 0)
    try:
        _wait_ready(app, pid, url)
        rnd.startup_s = time.monotonic() - t0
        rnd.startup_cpu_s = _cpu_seconds(pid)
        killed = threading.Event()
        threads = [threading.Thread(target=_writer, args=(rnd, url, slot, killed)) for slot in range(WRITERS)]
        t1 = time.monotonic()
        for t in threads:
            t.start()
        while len(rnd.acked) < kill_after and any(t.is_alive() for t in threads):
            time.sleep(0.002)
        killed.set()
        os.killpg(pid, signal.SIGKILL)  # the whole process group: the app and anything it started
        status = app.wait(pid)
        rnd.burst_s = time.monotonic() - t1
        for t in threads:
            t.join(timeout=60)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        raise
    assert status == -signal.SIGKILL
    assert not rnd.errors, rnd.errors[:5]  # nothing failed while the app was up (no 'database is locked')


def _check_database(data_dir: Path, acked: set, sent: set) -> dict[str, int]:
    """Open the killed app's database with the services; every acknowledged write must be there."""
    sv = Services(Settings(data_dir=data_dir, seed_demo=False))
    try:
        assert sv.db.integrity_check() == "ok"
        with sv.db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        with sv.db.read() as s:
            ds = repo.get_dataset(s, DATASET)
            history = repo.history(s, ds, list(range(1, EXAMPLES + 1)))
        present = [(h["annotator"], ex, h["labels"][0]) for ex, rows in history.items() for h in rows
                   if h["kind"] == "label" and h["annotator"] != "setup"]
    finally:
        sv.close()
    assert len(present) == len(set(present)), "a write was applied twice"
    missing = acked - set(present)
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:3]}"
    phantom = set(present) - sent
    assert not phantom, f"writes no client sent: {sorted(phantom)[:3]}"
    return {"present": len(present)}


def test_acknowledged_labels_survive_20_kill9s(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    setup = Services(Settings(data_dir=data_dir, seed_demo=False))
    setup.datasets.create(DATASET, "single_label", list(LABELS), actor=Actor("setup"))
    for i in range(EXAMPLES):
        setup.annotate.add(DATASET, f"burst text {i}", actor=Actor("setup"))
    setup.close()

    rng = random.Random(9)
    log_path = tmp_path / "app.log"
    app = Launcher(data_dir, log_path)
    rounds: list[Round] = []
    all_sent: set = set()
    all_acked: set = set()
    try:
        for number in range(ROUNDS):
            rnd = Round(number)
            _run_round(rnd, app, kill_after=rng.randint(3, 24))
            rounds.append(rnd)
            all_sent |= rnd.sent
            all_acked |= rnd.acked
            # per round: this round's acks and every earlier round's survive this kill and the restart before it
            _check_database(data_dir, all_acked, all_sent)
            if number == 0:
                prewarm_s = app.prewarm()
    finally:
        app.close()

    final = _check_database(data_dir, all_acked, all_sent)
    in_flight = sum(len(r.sent - r.acked) for r in rounds)
    warm = sorted(r.startup_s for r in rounds[1:])
    warm_cpu = sorted(r.startup_cpu_s for r in rounds[1:])
    print(f"\nkill -9 x{ROUNDS}: {len(all_acked)} acknowledged writes all present ({final['present']} in the "
          f"database, {in_flight} sent without an answer at the kills); app start-up: cold "
          f"{rounds[0].startup_s:.1f} s ({rounds[0].startup_cpu_s:.1f} s CPU), forked median "
          f"{warm[len(warm) // 2]:.1f} s ({warm_cpu[len(warm_cpu) // 2]:.1f} s CPU; max {warm[-1]:.1f} s), fork "
          f"server import {prewarm_s:.1f} s; bursts {sum(r.burst_s for r in rounds):.1f} s in all; "
          f"load average {os.getloadavg()[0]:.1f}")
    assert all(r.acked for r in rounds), "every round acknowledged writes before its kill"
    assert in_flight >= ROUNDS, "the kills landed mid-burst, with requests in flight"
    log = log_path.read_text()
    assert "SQLite 3." in log and "journal mode wal" in log  # the app states its storage at start-up
