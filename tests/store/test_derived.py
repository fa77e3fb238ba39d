"""The derived state (annotator states, consensus, running totals) always equals what the history says.

A seeded mix of every kind of change runs through the real services; afterwards the stored rows match
a rebuild from the history, and the statistics match an independent count over the raw annotation
rows. Tampered totals are found by the check and mended by a rebuild; a database from before the
derived tables gets them at the next start.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter, defaultdict

import pytest
from sqlalchemy import create_engine, update

from ftdemo.cli import main
from ftdemo.services import Actor, Services
from ftdemo.settings import Settings
from ftdemo.store import Database, derived, repo
from ftdemo.store.consensus import AnnotatorState, consensus
from ftdemo.store.migrate import upgrade
from ftdemo.store.schema import DatasetStats

LABELS = ["pos", "neg", "neu"]
PEOPLE = [Actor(n, "admin") for n in ("ada", "bo", "cy")]


@pytest.fixture
def app_db_url(migrated_db_url: str) -> str:
    """The services run on SQLite and on PostgreSQL (tests/conftest.py: `backend`)."""
    return migrated_db_url


def workload(services: Services, dataset: str, task: str, seed: int) -> None:
    """Labels, relabels, skips, clears, undos, deletes and restores, retire and un-retire, by three people."""
    rng = random.Random(seed)
    services.datasets.create(dataset, task, LABELS, actor=PEOPLE[0])
    for i in range(60):
        services.annotate.add(dataset, f"text {i} of {dataset}", actor=PEOPLE[0])
    for step in range(420):  # ends with "neu" retired: the check sees a dataset with a retired label
        who = rng.choice(PEOPLE)
        ex = rng.randint(1, 60) + services.annotate.search(dataset, limit=1)[0][0].id - 1
        roll = rng.random()
        try:
            if step in (120, 380):  # "neu" leaves every consensus it was in
                services.datasets.retire_label(dataset, "neu", actor=who)
            elif step == 200:
                services.datasets.add_label(dataset, "neu", actor=who)  # back, with its history
            elif roll < 0.55:
                active = services.datasets.info(dataset).labels  # a retired label cannot be chosen
                labels = rng.sample(active, rng.randint(1, 2)) if task == "multi_label" else [rng.choice(active)]
                services.annotate.label(dataset, ex, labels, actor=who)
            elif roll < 0.65:
                services.annotate.skip(dataset, ex, actor=who)
            elif roll < 0.72:
                services.annotate.clear(dataset, ex, actor=who)
            elif roll < 0.82:
                services.annotate.undo(dataset, actor=who)
            else:
                services.annotate.delete(dataset, ex, actor=who, restore=rng.random() < 0.5)
        except Exception as err:  # noqa: BLE001 - deleted examples refuse labels; that is part of the mix
            assert "not in dataset" in str(err) or "already" in str(err) or "retire" in str(err), err


def from_history(services: Services, dataset: str) -> dict:
    """Statistics counted straight from the annotation rows, without the derived tables."""
    from sqlalchemy import select

    from ftdemo.store.schema import Annotation, AnnotationLabel, Example

    with services.db.read() as s:
        ds = repo.get_dataset(s, dataset)
        names = {lab.id: lab.name for lab in ds.labels}
        retired = {lab.name for lab in ds.labels if lab.retired}
        live = dict(s.execute(select(Example.id, Example.deleted_at.is_(None)).where(Example.dataset_id == ds.id)).all())
        rows = s.execute(select(Annotation.id, Annotation.example_id, Annotation.annotator, Annotation.kind)
                         .where(Annotation.example_id.in_(list(live))).order_by(Annotation.id)).all()
        labels = defaultdict(list)
        for ann_id, label_id in s.execute(select(AnnotationLabel.annotation_id, AnnotationLabel.label_id)).all():
            labels[ann_id].append(names[label_id])
        order = [lab.name for lab in ds.labels]
        multi = ds.task == "multi_label"
    latest: dict[int, dict[str, AnnotatorState]] = defaultdict(dict)
    for ann_id, ex, who, kind in rows:
        kept = tuple(x for x in labels[ann_id] if x not in retired)
        latest[ex][who] = AnnotatorState(kind, kept, ann_id)
    counts: Counter[str] = Counter()
    labelled = multi_n = conflicts = 0
    for ex, states in latest.items():
        c = consensus({w: st for w, st in states.items() if st.kind != "label" or st.labels}, multi_label=multi,
                      label_order=order)
        if live[ex] and c.is_labelled:
            labelled += 1
            counts.update(c.labels)
            if c.annotators > 1:
                multi_n += 1
                conflicts += c.agreement < 1
    return {"examples": sum(live.values()), "labelled": labelled, "multi": multi_n, "conflicts": conflicts,
            "labels": {lab: counts.get(lab, 0) for lab in order if lab not in retired}}


@pytest.mark.parametrize("task", ["single_label", "multi_label"])
@pytest.mark.parametrize("seed", [0, 1])
def test_derived_state_equals_the_history_after_any_mix_of_changes(services, task, seed) -> None:
    workload(services, "mix", task, seed)
    with services.db.write() as s:
        assert derived.check(s, repo.get_dataset(s, "mix")) == []
    stats, truth = services.datasets.stats("mix"), from_history(services, "mix")
    assert (stats.examples, stats.labelled, stats.multi_annotated, stats.conflicts) == \
        (truth["examples"], truth["labelled"], truth["multi"], truth["conflicts"])
    assert stats.label_counts == truth["labels"]
    assert stats.labelled == len(services.annotate.snapshot("mix"))


def test_tampered_totals_are_found_and_rebuilt(services, admin, capsys) -> None:
    workload(services, "mix", "single_label", 3)
    before = services.datasets.stats("mix")
    with services.db.write() as s:
        s.execute(update(DatasetStats).values(labelled=DatasetStats.labelled + 7))
    assert services.datasets.stats("mix").labelled == before.labelled + 7
    db = services.settings.db_url
    assert main(["rebuild", "--check", "--db", db]) == 2
    assert "mix: differs in dataset_stats" in capsys.readouterr().out
    assert main(["rebuild", "mix", "--db", db, "--json"]) == 0
    assert '"dataset_stats"' in capsys.readouterr().out
    assert services.datasets.stats("mix") == before
    assert main(["rebuild", "--check", "--db", db]) == 0


def test_a_database_from_before_the_derived_tables_gets_them_at_start(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(create_engine(url), "0003")
    con = sqlite3.connect(tmp_path / "old.db")
    con.execute("INSERT INTO datasets (id, name, task, description, created_at, created_by, text_name, pair_name)"
                " VALUES (1, 'old', 'single_label', '', '2025-01-01 00:00:00', 'u', '', '')")
    con.executemany("INSERT INTO labels VALUES (?, 1, ?, ?, 0, '2025-01-01 00:00:00')", [(1, "pos", 0), (2, "neg", 1)])
    con.executemany("INSERT INTO examples (id, dataset_id, text, text_pair, content_hash, source, meta, created_at,"
                    " created_by, deleted_at) VALUES (?, 1, ?, NULL, ?, 'old', NULL, '2025-01-01 00:00:00', 'u', ?)",
                    [(i, f"text {i}", f"{i:064x}", "2025-02-01 00:00:00" if i == 3 else None) for i in range(1, 11)])
    rows = [(i, i, "u", "label") for i in range(1, 9)] + [(9, 1, "v", "label"), (10, 2, "u", "skip")]
    con.executemany("INSERT INTO annotations (id, example_id, annotator, kind, created_at, reverts_id, origin)"
                    " VALUES (?, ?, ?, ?, '2025-01-01 00:00:00', NULL, '')", rows)
    con.executemany("INSERT INTO annotation_labels VALUES (?, ?)", [(i, 1 + i % 2) for i in range(1, 10)])
    con.commit()
    con.close()
    services = Services(Settings(data_dir=tmp_path, db_url=url, seed_demo=False), db=Database(url))
    try:
        stats = services.datasets.stats("old")
        # 10 examples, #3 deleted; u labelled 1..8 then skipped 2; v labelled 1 too (both "neg": agreement)
        assert (stats.examples, stats.labelled, stats.multi_annotated, stats.conflicts) == (9, 6, 1, 0)
        assert stats.annotators == {"u": 7, "v": 1}
        with services.db.write() as s:
            assert derived.check(s, repo.get_dataset(s, "old")) == []
    finally:
        services.close()


def test_export_pages_of_any_size_give_every_live_example_once_with_its_labels(services) -> None:
    workload(services, "mix", "multi_label", 5)
    with services.db.read() as s:
        ds = repo.get_dataset(s, "mix")
        whole = [row for page in repo.export_pages(s, ds, page=10_000) for row in page]
        paged = list(repo.export_pages(s, ds, page=7))
        live = {r.id for r in services.annotate.search("mix", limit=1000)[0]}
        current = repo.current_labels(s, ds, [r[0] for r in whole])
    assert [len(p) for p in paged] == [7] * (len(whole) // 7) + ([len(whole) % 7] if len(whole) % 7 else [])
    assert [row for page in paged for row in page] == whole
    assert [r[0] for r in whole] == sorted(live)
    for ex_id, _, _, labels, hist in whole:
        assert labels == (current[ex_id].labels if ex_id in current else ())
        assert [h["id"] for h in hist] == sorted(h["id"] for h in hist)


def test_bulk_annotations_keep_their_order_when_an_example_comes_twice(services, admin) -> None:
    services.datasets.create("bulk", "single_label", LABELS, actor=admin)
    a, b = (services.annotate.add("bulk", t, actor=admin).id for t in ("one", "two"))
    with services.db.write() as s:
        ds = repo.get_dataset(s, "bulk")
        repo.add_label_annotations(s, ds, [(a, ["pos"]), (b, ["neg"]), (a, ["neu"])], annotator="imp")
        repo.add_label_annotations(s, ds, [(b, ["pos"])], annotator="imp")
    assert [h["labels"] for h in services.annotate.get("bulk", a).history] == [["pos"], ["neu"]]
    assert services.annotate.get("bulk", a).labels == ["neu"] and services.annotate.get("bulk", b).labels == ["pos"]
    with services.db.write() as s:
        assert derived.check(s, repo.get_dataset(s, "bulk")) == []
