"""Import/export through the store: export → import into a new dataset reproduces examples and labels."""

import json

import pytest

from ftdemo import io
from ftdemo.errors import InvalidInputError, PermissionDeniedError
from ftdemo.services import Actor
from ftdemo.store import repo

TRICKY = ["Plain text", "中文句子，很好。", "emoji 🎉👍", "comma, \"quotes\" and 'apostrophes'", "line one\nline two",
          "=SUM(A1:A2)", "-5 degrees", "'=not a formula", "مرحبا بالعالم", "tab\there"]
TASKS = {
    "single_label": ("a,b,c", lambda i: ["abc"[i % 3]]),
    "multi_label": ("x,y,z", lambda i: [["x"], ["y", "z"], [], ["x", "y", "z"]][i % 4]),
    "pair": ("entailment,neutral,contradiction", lambda i: [["entailment", "neutral", "contradiction"][i % 3]]),
}


def _fill(services, name, task, admin):
    labels, pick = TASKS[task]
    services.datasets.create(name, task, labels, actor=admin)
    for i, text in enumerate(TRICKY):
        chosen = pick(i)
        pair = f"second {text}" if task == "pair" else None
        view = services.annotate.add(name, text, pair, actor=admin)
        if chosen and i != 4:  # leave one unlabelled in every task
            services.annotate.label(name, view.id, chosen, actor=admin)
    services.annotate.label(name, 1, pick(1) or ["x"], actor=Actor("second", "annotator"))


def _content(services, name):
    views, _ = services.annotate.search(name, limit=1000)
    return sorted((v.text, v.text_pair, tuple(v.labels)) for v in views)


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet", ""])
def test_export_then_import_reproduces_examples_and_labels(services, admin, tmp_path, task, suffix):
    _fill(services, "src", task, admin)
    path = tmp_path / f"export{suffix or '_dir'}"
    out = services.transfer.export("src", path, actor=admin)
    assert out["exported"] == len(TRICKY)
    services.datasets.create("dst", task, TASKS[task][0], actor=admin)
    report = services.transfer.import_file("dst", out["path"], actor=admin)
    assert report.errors == [] and report.duplicates == 0 and report.imported == len(TRICKY)
    assert _content(services, "dst") == _content(services, "src")


def test_export_holds_full_history(services, admin, tmp_path):
    _fill(services, "src", "single_label", admin)
    services.annotate.label("src", 2, "c", actor=admin)
    services.transfer.export("src", tmp_path / "h.jsonl", actor=admin)
    rows = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text(encoding="utf-8").splitlines()]
    second = next(r for r in rows if r["id"] == 2)
    assert [(h["annotator"], h["labels"]) for h in second["history"]] == [("ada", ["b"]), ("ada", ["c"])]


def test_csv_export_neutralises_formulas(services, admin, tmp_path):
    _fill(services, "src", "single_label", admin)
    services.transfer.export("src", tmp_path / "x.csv", actor=admin)
    raw = (tmp_path / "x.csv").read_text(encoding="utf-8-sig")
    assert "'=SUM(A1:A2)" in raw and "\n=SUM" not in raw and ",=SUM" not in raw


def test_bad_rows_are_reported_and_strict_imports_nothing(services, admin, tmp_path):
    services.datasets.create("d", "single_label", "pos,neg", actor=admin)
    f = tmp_path / "bad.csv"
    f.write_text("text,label\nfine,pos\n,neg\nunknown label,posi\nfine,pos\n" + "x" * 6000 + ",neg\nok too,\n",
                 encoding="utf-8")
    strict = services.transfer.import_file("d", f, actor=admin, strict=True)
    assert not strict.committed and services.datasets.stats("d").examples == 0
    assert {e["row"] for e in strict.errors} == {2, 3, 5} and strict.duplicates == 1
    report = services.transfer.import_file("d", f, actor=admin)
    assert report.imported == 2 and report.labelled == 1
    st = services.datasets.stats("d")
    assert (st.examples, st.labelled, st.label_counts) == (2, 1, {"pos": 1, "neg": 0})
    assert services.transfer.import_file("d", f, actor=admin).imported == 0  # all duplicates now


def test_missing_column_is_actionable(services, admin, tmp_path):
    services.datasets.create("d", "single_label", "pos,neg", actor=admin)
    f = tmp_path / "x.csv"
    f.write_text("body,label\nhello,pos\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="body"):
        services.transfer.import_file("d", f, actor=admin, text_col="text")
    assert services.transfer.import_file("d", f, actor=admin, text_col="body").imported == 1


def test_upload_size_limit(services, admin, tmp_path):
    services.datasets.create("d", "single_label", "pos,neg", actor=admin)
    services.settings.max_upload_mb = 1
    f = tmp_path / "big.csv"
    f.write_text("text,label\n" + "".join(f"row {i} {'y' * 100},pos\n" for i in range(12000)), encoding="utf-8")
    with pytest.raises(InvalidInputError):
        services.transfer.import_file("d", f, actor=admin)


def test_annotators_cannot_import_or_export(services, admin, annotator, tmp_path):
    services.datasets.create("d", "single_label", "pos,neg", actor=admin)
    f = tmp_path / "x.csv"
    f.write_text("text,label\nhello,pos\n", encoding="utf-8")
    with pytest.raises(PermissionDeniedError):
        services.transfer.import_file("d", f, actor=annotator)
    with pytest.raises(PermissionDeniedError):
        services.transfer.export("d", tmp_path / "o.csv", actor=annotator)


def test_preview_shows_rows_mapping_and_plan(services, admin, tmp_path):
    services.datasets.create("d", "pair", "yes,no", actor=admin)
    f = tmp_path / "p.jsonl"
    f.write_text('{"premise": "a", "hypothesis": "b", "label": "yes"}\n{"premise": "c"}\nnot json\n',
                 encoding="utf-8")
    pv = services.transfer.preview("d", f, actor=admin)
    assert pv["mapping"] == {"text": "premise", "text_pair": "hypothesis", "label": "label"}
    assert pv["summary"]["valid"] == 1 and {e["row"] for e in pv["errors"]} == {2, 3}


def test_a_pair_file_names_the_texts_of_its_dataset(services, admin, tmp_path):
    services.datasets.create("qa", "pair", ["yes", "no"], actor=admin)
    rows = tmp_path / "qa.jsonl"
    rows.write_text('{"question": "Is it raining?", "passage": "The sun shines.", "label": "no"}\n')
    services.transfer.import_file("qa", rows, actor=admin)
    info = services.datasets.info("qa")
    assert (info.text_name, info.pair_name) == ("Question", "Passage")
    generic = tmp_path / "generic.csv"
    generic.write_text("sentence1,sentence2,label\nA cat sits.,An animal sits.,yes\n")
    services.datasets.create("nli2", "pair", ["yes", "no"], actor=admin)
    services.transfer.import_file("nli2", generic, actor=admin)
    assert (services.datasets.info("nli2").text_name, services.datasets.info("nli2").pair_name) == \
        ("Premise", "Hypothesis")  # "sentence1" says nothing: the defaults stay


def test_csv_export_has_no_byte_order_mark_unless_for_excel(services, admin, tmp_path):
    import csv

    services.datasets.create("src", "single_label", "pos,neg", actor=admin)
    services.annotate.add("src", "héllo wörld", labels=["pos"], actor=admin)
    plain = services.transfer.export("src", tmp_path / "plain.csv", actor=admin)
    with open(plain["path"], encoding="utf-8", newline="") as f:
        assert next(csv.DictReader(f))["text"] == "héllo wörld"
    excel = services.transfer.export("src", tmp_path / "excel.csv", actor=admin, excel=True)
    assert (excel["excel"], plain["excel"]) == (True, False)
    assert (tmp_path / "excel.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    services.datasets.create("copy", "single_label", "pos,neg", actor=admin)
    first = services.transfer.import_file("copy", tmp_path / "plain.csv", actor=admin)  # import takes both
    again = services.transfer.import_file("copy", tmp_path / "excel.csv", actor=admin)
    assert (first.imported, first.errors, again.duplicates, again.errors) == (1, [], 1, [])
    assert services.datasets.stats("copy").label_counts == {"pos": 1, "neg": 0}


def _rows(tmp_path, n: int, *, bad_every: int = 0, repeat_every: int = 0):
    path = tmp_path / "rows.csv"
    lines = ["text,label"]
    for i in range(1, n + 1):
        if bad_every and i % bad_every == 0:
            lines.append(f"row {i},bogus")  # an unknown label
        elif repeat_every and i % repeat_every == 0:
            lines.append(f"row {i - 1},{'a' if i % 2 else 'b'}")  # the text of the row before, maybe relabelled
        else:
            lines.append(f"row {i},{'a' if i % 2 else 'b'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_import_in_chunks_reports_what_a_plan_says(services, admin, tmp_path, monkeypatch):
    from ftdemo.services import transfer

    services.datasets.create("small", "single_label", ["a", "b"], actor=admin)
    services.annotate.add("small", "row 7", actor=admin)  # already stored before the import
    path = _rows(tmp_path, 40, bad_every=9, repeat_every=5)
    # the in-memory planner is the reference: the streamed import must say and do exactly what it says
    with services.db.read() as s:
        ds = repo.get_dataset(s, "small")
        plan = io.plan_import(path, "single_label", ["a", "b"],
                              existing_hashes=lambda hashes: repo.existing_hashes(s, ds.id, hashes))
    assert services.transfer.check("small", path, actor=admin).summary() == plan.summary()
    monkeypatch.setattr(transfer, "IMPORT_CHUNK", 3)  # many chunks: repeats and errors span them
    seen = []
    report = services.transfer.import_file("small", path, actor=admin, on_progress=lambda *a: seen.append(a))
    assert report.errors == plan.errors and report.duplicate_rows == plan.duplicates
    assert report.imported == len(plan.valid) == services.datasets.stats("small").examples - 1
    assert any("labelled b there, a here" in d["reason"] or "labelled a there, b here" in d["reason"]
               for d in report.duplicate_rows)
    assert [p for p, _, _ in seen].count("checking") >= 13 and seen[-1] == ("writing", 40, 40)
    assert {v.text for v in services.annotate.search("small", limit=100)[0]} >= {c.text for c in plan.valid}


def test_an_interrupted_import_leaves_nothing_behind(services, admin, tmp_path, monkeypatch):
    from ftdemo.services import transfer
    from ftdemo.store import derived, repo

    services.datasets.create("small", "single_label", ["a", "b"], actor=admin)
    services.annotate.add("small", "kept", labels=["a"], actor=admin)
    before = services.datasets.stats("small")
    monkeypatch.setattr(transfer, "IMPORT_CHUNK", 5)

    def stop(phase, done, total):  # the person cancels (Ctrl-C) once 10 rows are written
        if phase == "writing" and done >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        services.transfer.import_file("small", _rows(tmp_path, 30), actor=admin, on_progress=stop)
    assert services.datasets.stats("small") == before
    assert [v.text for v in services.annotate.search("small")[0]] == ["kept"]
    with services.db.write() as s:
        assert derived.check(s, repo.get_dataset(s, "small")) == []
    again = services.transfer.import_file("small", _rows(tmp_path, 30), actor=admin)  # and it can be redone
    assert again.imported == 30 and services.datasets.stats("small").labelled == 31


def test_a_strict_import_of_a_file_with_one_bad_row_writes_nothing(services, admin, tmp_path):
    services.datasets.create("small", "single_label", ["a", "b"], actor=admin)
    report = services.transfer.import_file("small", _rows(tmp_path, 50, bad_every=50), actor=admin, strict=True)
    assert not report.committed and len(report.errors) == 1 and services.datasets.stats("small").examples == 0


@pytest.mark.slow  # ~25 s on 2 cores
@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite (Debian's build) takes 250,000 parameters
def test_a_70000_row_import_is_counted_and_searched(services, admin, tmp_path):
    """More labelled rows than PostgreSQL takes bound parameters in one statement (65,535), read back at once
    after the import (before autovacuum has looked at the new rows: the import refreshes the planner's
    statistics). How fast is bench store's business (`--db` a PostgreSQL URL)."""
    rows = 70_000
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i}", "label": "ab"[i % 2]}) + "\n" for i in range(rows)),
                    encoding="utf-8")
    services.datasets.create("big", "single_label", "a,b", actor=admin)
    assert services.transfer.import_file("big", path, actor=admin).imported == rows
    stats = services.datasets.stats("big")
    assert (stats.labelled, stats.label_counts) == (rows, {"a": rows // 2, "b": rows // 2})
    assert len(services.annotate.snapshot("big")) == rows
    views, total = services.annotate.search("big", limit=None)
    assert total == len(views) == rows and views[-1].labels == ["b"]
