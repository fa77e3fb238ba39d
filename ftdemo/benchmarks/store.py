"""Store benchmark: a labelling project of N examples, measured through the services.

`python -m ftdemo bench store [--examples N] [--db URL] [--json]`:

1. writes a synthetic CSV of N texts (90% with a label, 10% left for the queue) and imports it in a
   child process: rows/s and the child's peak memory (its resting size is reported too);
2. adds a second annotator's label to 0.6·N of the labelled examples (85% agree with the first), so
   the dataset holds N examples and 1.5·N annotations;
3. times `stats`, `next` (in order and shuffled), `label` and the Data tab's first page, each
   `--samples` times after one warm-up call: p50 and p95 in ms; a page in the middle and a text
   search a tenth as often;
4. imports another N fresh rows into a second dataset in a child process while LABELLERS threads
   label (next → label, a short pause between): the longest a label write took, how many failed;
5. exports the first dataset to CSV in a child process: rows/s and peak memory.

The database is a fresh SQLite file in a temporary folder, or `--db URL` (for PostgreSQL), which
must hold no datasets yet: the benchmark fills it with 2·N examples and leaves them there.
Targets at N = 1,000,000 on SQLite (2 cores): stats p50 ≤ 200 ms, next and label p50 ≤ 50 ms, no
failed label write and no stall over 1.5 s during the import, import peak ≤ 500 MB.
"""

from __future__ import annotations

import csv
import multiprocessing
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftdemo.processes import peak_rss_mb

LABELS = ("positive", "negative", "neutral", "mixed")
LABELLERS = 5
UNLABELLED_SHARE = 0.1
SECOND_SHARE = 0.6  # of all examples: 0.9 N first annotations + 0.6 N second ones = 1.5 N
WORDS = ("service product delivery quality price support screen battery update account refund order staff "
         "app login payment late broken fast great terrible okay slow friendly helpful confusing simple "
         "expensive cheap again never always today yesterday week month store online phone email").split()


def write_csv(path: Path, n: int, seed: int, *, start: int = 0) -> None:
    """N distinct review-like texts; labels on all but UNLABELLED_SHARE of them (spread evenly)."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["text", "label"])
        for i in range(start, start + n):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18)))
            label = "" if rng.random() < UNLABELLED_SHARE else rng.choice(LABELS)
            out.writerow([f"ticket {i}: {words}", label])


def _services(db_url: str, data_dir: str) -> Any:
    from ftdemo.services import Services
    from ftdemo.settings import Settings

    return Services(Settings(data_dir=Path(data_dir), db_url=db_url, seed_demo=False, max_upload_mb=4096))


def _child(job: str, db_url: str, data_dir: str, dataset: str, path: str, results: Any) -> None:
    """Runs in a fresh (spawned) process, so its peak memory is the job's own; reports on `results`."""
    from ftdemo.services import Actor

    sv = _services(db_url, data_dir)
    rest = peak_rss_mb()
    admin = Actor("bench", "admin")
    t0 = time.perf_counter()
    try:
        if job == "import":
            report = sv.transfer.import_file(dataset, path, actor=admin, text_col="text", label_col="label",
                                             upload=False)
            rows = report.imported
        else:
            rows = sv.transfer.export(dataset, path, actor=admin)["exported"]
        results.send({"rows": rows, "seconds": time.perf_counter() - t0, "peak_mb": peak_rss_mb(), "rest_mb": rest})
    except BaseException as err:  # noqa: BLE001 - the parent reports it
        results.send({"error": f"{type(err).__name__}: {err}"})
    finally:
        results.close()
        sv.close()


def in_child(job: str, db_url: str, data_dir: str, dataset: str, path: Path) -> tuple[Any, Any]:
    """Start `job` in a child process: (the process, the end of the pipe its result comes from)."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(job, db_url, data_dir, dataset, str(path), send), daemon=True)
    proc.start()
    send.close()  # the child holds the only sending end: the parent sees EOF if it dies without a word
    return proc, receive


def finish(proc: Any, receive: Any) -> dict[str, Any]:
    try:
        result = receive.recv()
    except EOFError:
        result = {"error": f"it ended with exit code {proc.join() or proc.exitcode} and no report"}
    proc.join()
    if "error" in result:
        raise RuntimeError(f"the benchmark's child process failed: {result['error']}")
    return result


def timings(call: Callable[[], Any], samples: int) -> list[float]:
    call()  # warm-up: first-use costs (statement caches, pages read from disk) are not what is measured
    out = []
    for _ in range(samples):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p50_p95(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def add_second_annotations(sv: Any, dataset: str, seed: int, share: float) -> int:
    """A second annotator labels `share`·examples of the labelled ones, agreeing 85% of the time."""
    from sqlalchemy import select

    from ftdemo.store import repo
    from ftdemo.store.schema import CurrentLabel, Label

    rng = random.Random(seed)
    with sv.db.read() as s:
        ds = repo.get_dataset(s, dataset)
        total = repo.count_examples(s, ds)[0]
        firsts = s.execute(select(CurrentLabel.example_id, Label.name).join(Label, Label.id == CurrentLabel.label_id)
                           .where(CurrentLabel.dataset_id == ds.id).order_by(CurrentLabel.example_id)).all()
    chosen = firsts[: int(share * total)]
    written = 0
    for start in range(0, len(chosen), 5000):
        part = [(ex, [label if rng.random() < 0.85 else rng.choice(LABELS)]) for ex, label in chosen[start:start + 5000]]
        with sv.db.write() as s:
            written += repo.add_label_annotations(s, repo.get_dataset(s, dataset), part, annotator="second",
                                                  origin="bench")
    return written


def labellers_during(sv: Any, dataset: str, busy: Callable[[], bool], n: int, pause_s: float) -> dict[str, Any]:
    """N threads label (next → label) until `busy()` turns false; the time of every label write."""
    from ftdemo.services import Actor

    writes: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        who = Actor(f"labeller{k}", "annotator")
        rng = random.Random(k)
        while busy():
            try:
                ex = sv.annotate.next(dataset, who, order="shuffled", seed=1000 + k)
                if ex is None:
                    return
                t0 = time.perf_counter()
                sv.annotate.label(dataset, ex.id, [rng.choice(LABELS)], actor=who)
                took = (time.perf_counter() - t0) * 1000
                with lock:
                    writes.append(took)
            except Exception as err:  # noqa: BLE001 - a failed write is what is counted
                with lock:
                    failures.append(f"{type(err).__name__}: {err}")
            time.sleep(pause_s)

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"writes": writes, "failures": failures}


def run_store_bench(examples: int = 1_000_000, *, db_url: str | None = None, seed: int = 0, samples: int = 50,
                    labellers: int = LABELLERS, pause_s: float = 0.2,
                    print_fn: Callable[[str], None] = print) -> dict[str, Any]:
    from ftdemo.errors import InvalidInputError
    from ftdemo.services import Actor

    admin = Actor("bench", "admin")
    with tempfile.TemporaryDirectory(prefix="ftdemo-bench-store-") as tmp:
        folder = Path(tmp)
        url = db_url or f"sqlite:///{folder / 'bench.db'}"
        sv = _services(url, tmp)
        try:
            if sv.datasets.list():
                raise InvalidInputError("bench store fills the database with examples: give it an empty one "
                                        "(--db), or leave --db out for a temporary SQLite file")
            a, b = "bench-a", "bench-b"
            sv.datasets.create(a, "single_label", list(LABELS), actor=admin)
            sv.datasets.create(b, "single_label", list(LABELS), actor=admin)
            out: dict[str, Any] = {"examples": examples, "backend": sv.db.engine.dialect.name,
                                   "labellers": labellers, "samples": samples}

            print_fn(f"writing {examples:,} synthetic rows ...")
            first, second = folder / "a.csv", folder / "b.csv"
            write_csv(first, examples, seed)
            print_fn("importing them (child process) ...")
            imp = finish(*in_child("import", url, tmp, a, first))
            out.update(import_rows_per_s=round(imp["rows"] / imp["seconds"], 1), import_peak_mb=round(imp["peak_mb"], 1),
                       import_rest_mb=round(imp["rest_mb"], 1), import_seconds=round(imp["seconds"], 1))
            print_fn(f"  {imp['rows']:,} rows in {imp['seconds']:.1f} s = {out['import_rows_per_s']:,.0f} rows/s, "
                     f"peak {imp['peak_mb']:.0f} MB (at rest {imp['rest_mb']:.0f} MB)")

            print_fn("a second annotator labels part of them ...")
            t0 = time.perf_counter()
            extra = add_second_annotations(sv, a, seed, SECOND_SHARE)
            stats = sv.datasets.stats(a)
            annotations = stats.labelled + extra  # the labelled ones had one annotation each
            out.update(annotations=annotations, second_annotations_seconds=round(time.perf_counter() - t0, 1))
            print_fn(f"  {examples:,} examples, {annotations:,} annotations, {stats.conflicts:,} conflicts")

            labeller = Actor("timer", "annotator")
            few = max(3, samples // 10)

            def label_write_ms() -> float:
                ex = sv.annotate.next(a, labeller)
                t1 = time.perf_counter()
                sv.annotate.label(a, ex.id, [LABELS[ex.id % len(LABELS)]], actor=labeller)
                return (time.perf_counter() - t1) * 1000

            measured: dict[str, list[float]] = {
                "stats": timings(lambda: sv.datasets.stats(a), samples),
                "next": timings(lambda: sv.annotate.next(a, labeller), samples),
                "next_shuffled": timings(lambda: sv.annotate.next(a, labeller, order="shuffled", seed=7), samples),
                "label": [label_write_ms() for _ in range(samples + 1)][1:],  # the write only; the first warms up
                "search": timings(lambda: sv.annotate.search(a, limit=50), samples),  # the Data tab's first page
                # a page in the middle (OFFSET walks the index) and a text filter (LIKE '%…%' reads every
                # text): the Data tab's slow cases, timed fewer times
                "search_deep_page": timings(lambda: sv.annotate.search(a, limit=50, offset=examples // 2), few),
                "search_text": timings(lambda: sv.annotate.search(a, text="refund today", limit=50), few),
            }
            for name, ms in measured.items():
                p50, p95 = p50_p95(ms)
                out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = round(p50, 2), round(p95, 2)
                print_fn(f"  {name:<14} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms")

            print_fn(f"importing {examples:,} more rows while {labellers} people label ...")
            write_csv(second, examples, seed + 1, start=examples)
            proc, pipe = in_child("import", url, tmp, b, second)
            during = labellers_during(sv, a, proc.is_alive, labellers, pause_s)
            imp2 = finish(proc, pipe)
            writes = during["writes"]
            out.update(max_label_stall_ms=round(max(writes, default=0.0), 1),
                       label_during_import_p50_ms=round(statistics.median(writes), 2) if writes else None,
                       label_writes_during_import=len(writes), failed_label_writes=len(during["failures"]),
                       concurrent_import_rows_per_s=round(imp2["rows"] / imp2["seconds"], 1))
            print_fn(f"  {len(writes):,} label writes, longest {out['max_label_stall_ms']:.0f} ms, "
                     f"{len(during['failures'])} failed; the import ran at {out['concurrent_import_rows_per_s']:,.0f} rows/s")
            for failure in during["failures"][:3]:
                print_fn(f"    {failure}")

            print_fn("exporting the first dataset (child process) ...")
            exp = finish(*in_child("export", url, tmp, a, folder / "export.csv"))
            out.update(export_rows_per_s=round(exp["rows"] / exp["seconds"], 1), export_peak_mb=round(exp["peak_mb"], 1))
            print_fn(f"  {exp['rows']:,} rows in {exp['seconds']:.1f} s = {out['export_rows_per_s']:,.0f} rows/s, "
                     f"peak {exp['peak_mb']:.0f} MB")
            return out
        finally:
            sv.close()
