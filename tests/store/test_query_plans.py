"""The hot paths (next example, label, stats, search) read big tables only through indexes.

Every statement a service call sends is captured and explained by the database itself
(`EXPLAIN QUERY PLAN` on SQLite; `EXPLAIN` with sequential scans priced out on PostgreSQL, so a
"Seq Scan" left in the plan means no index can serve it). A full scan or a sort of a big table
fails the test with the statement and its plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from ftdemo.services import Actor, Services

# tables that grow with the data; the rest (datasets, labels, the per-dataset totals) stay small
BIG = ("examples", "annotations", "annotation_labels", "annotator_states", "example_states", "current_labels")
BOB = Actor("bob", "annotator")


@pytest.fixture
def app_db_url(migrated_db_url: str) -> str:
    """The services run on SQLite and on PostgreSQL (tests/conftest.py: `backend`)."""
    return migrated_db_url


@contextmanager
def captured(services: Services) -> Iterator[list[tuple[str, object]]]:
    statements: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ANN001 - SQLAlchemy's hook
        if not executemany and statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
            statements.append((statement, params))

    event.listen(services.db.engine, "before_cursor_execute", grab)
    try:
        yield statements
    finally:
        event.remove(services.db.engine, "before_cursor_execute", grab)


def plan(services: Services, statement: str, params: object) -> list[str]:
    with services.db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        if services.db.engine.dialect.name == "sqlite":
            return [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()]
        with raw.cursor() as cur:
            cur.execute("SET enable_seqscan = off")
            cur.execute("EXPLAIN " + statement, params)
            return [row[0] for row in cur.fetchall()]


def problems(lines: list[str], *, small_sorts: bool = False) -> list[str]:
    """Plan lines that read a big table without an index, or sort rows of one (an ORDER BY ... LIMIT
    that the index order should serve). `small_sorts`: the rows sorted are few by construction."""
    big = "|".join(BIG)
    bad = [line for line in lines if re.search(rf"\bSCAN ({big})\b", line)
           or re.search(rf"Seq Scan on ({big})\b", line)]
    if not small_sorts and any(re.search(rf"\b({big})\b", line) for line in lines):
        bad += [line for line in lines if "USE TEMP B-TREE FOR ORDER BY" in line]
    return bad


def test_the_checker_flags_a_full_scan(services, admin) -> None:
    services.datasets.create("t", "single_label", ["pos", "neg"], actor=admin)
    with services.db.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")  # a connection exists before the raw one is used
    param = ("x",) if services.db.engine.dialect.name == "sqlite" else {"t": "x"}
    sql = "SELECT id FROM examples WHERE text = " + ("?" if isinstance(param, tuple) else "%(t)s")
    assert problems(plan(services, sql, param))


@pytest.fixture
def hot(services, admin) -> Callable[[Callable[[], object]], list[str]]:
    services.datasets.create("big", "single_label", ["pos", "neg"], actor=admin)
    ids = [services.annotate.add("big", f"text {i}", actor=admin).id for i in range(12)]
    services.annotate.label("big", ids[0], "pos", actor=admin)
    services.annotate.label("big", ids[0], "neg", actor=BOB)
    services.annotate.skip("big", ids[1], actor=BOB)

    def check(call: Callable[[], object], small_sorts: bool = False) -> list[str]:
        with captured(services) as statements:
            call()
        assert statements, "the call sent no statements: nothing was checked"
        report = []
        for statement, params in statements:
            lines = plan(services, statement, params)
            if problems(lines, small_sorts=small_sorts):
                report.append(f"{statement}\n  " + "\n  ".join(lines))
        return report

    return check


@pytest.mark.parametrize("path", ["next", "next shuffled", "next overlap", "next overlap share",
                                  "next overlap share shuffled", "label", "relabel", "label suggested", "skip",
                                  "stats", "search", "search by label", "search by annotator", "unlabelled", "history",
                                  "label many", "undo label many", "acceptance", "retrain status"])
def test_hot_paths_use_indexes(services, admin, hot, path) -> None:
    first = services.annotate.search("big", limit=1)[0][0].id
    calls: dict[str, Callable[[], object]] = {
        "next": lambda: services.annotate.next("big", BOB),
        "next shuffled": lambda: services.annotate.next("big", BOB, order="shuffled", seed=11),
        "next overlap": lambda: services.annotate.next("big", BOB, overlap=True),
        # a share of the examples to 2 annotators (set below): labelled overlap examples stay candidates
        "next overlap share": lambda: services.annotate.next("big", BOB),
        "next overlap share shuffled": lambda: services.annotate.next("big", BOB, order="shuffled", seed=11),
        "label": lambda: services.annotate.label("big", first + 3, "pos", actor=BOB),
        "label suggested": lambda: services.annotate.label("big", first + 3, "pos", actor=BOB,
                                                           suggestion={"labels": ["neg"], "model": "instant"}),
        "relabel": lambda: services.annotate.label("big", first, "pos", actor=BOB),
        "skip": lambda: services.annotate.skip("big", first + 4, actor=BOB),
        "stats": lambda: services.datasets.stats("big"),
        "search": lambda: services.annotate.search("big", limit=50, offset=5),
        "search by label": lambda: services.annotate.search("big", label="pos", limit=50),
        "search by annotator": lambda: services.annotate.search("big", annotator="bob", limit=50),
        "unlabelled": lambda: services.annotate.search("big", unlabelled=True, limit=50),
        "history": lambda: services.annotate.get("big", first, with_history=True),
        "label many": lambda: services.annotate.label_many("big", [first + 5, first + 6, first + 7], "neg", actor=BOB),
        "undo label many": lambda: services.annotate.undo("big", actor=BOB),
        "acceptance": lambda: services.annotate.acceptance("big"),
        "retrain status": lambda: services.retrain.status("big"),
    }
    if path.startswith("next overlap share"):
        services.agreement.set_overlap("big", 0.5, 2, actor=admin)
    if path == "undo label many":
        services.annotate.label_many("big", [first, first + 5, first + 6], "neg", actor=BOB)
    if path == "acceptance":
        services.annotate.label("big", first + 8, "neg", actor=BOB, suggestion={"labels": ["neg"], "model": "v0001"})
    # an example's history is sorted by annotation id: a handful of rows, found through the index. With an
    # overlap share the candidates are two index ranges (unlabelled; overlap examples still short of k labels)
    # that the database merges and sorts: no scan, but a sort of the unlabelled pool (a known cost, measured
    # in docs/benchmarks.md, "Agreement")
    assert hot(calls[path], small_sorts=path == "history" or path.startswith("next overlap share")) == []
