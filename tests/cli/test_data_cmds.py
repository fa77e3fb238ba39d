"""The CLI as outside scripts use it: real subprocesses, JSON contracts, exit codes."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftdemo.errors import InvalidInputError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args, ok=True):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.run([sys.executable, "-m", "ftdemo", *args, "--db", url], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path, env=env)
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    return run


def js(proc):
    return json.loads(proc.stdout)


def test_create_import_label_stats_export_roundtrip(cli, tmp_path):
    cli("datasets", "create", "rev", "--task", "single_label", "--labels", "pos,neg")
    data = tmp_path / "in.csv"
    data.write_text('review,sentiment\ngreat,pos\n"bad, really",neg\nso-so,\n,pos\ngreat,pos\nhmm,posi\n', encoding="utf-8")
    out = js(cli("import", "rev", str(data), "--text-col", "review", "--label-col", "sentiment", "--json"))
    assert (out["imported"], out["duplicates"]) == (3, 1)
    assert sorted(e["row"] for e in out["errors"]) == [4, 6] and all(e["reason"] for e in out["errors"])

    unl = js(cli("examples", "rev", "--unlabelled", "--json"))
    assert [e["text"] for e in unl] == ["so-so"] and set(unl[0]) >= {"id", "text", "text_pair", "labels"}
    labelled = js(cli("label", "rev", str(unl[0]["id"]), "neg", "--annotator", "ann", "--json"))
    assert labelled["labels"] == ["neg"]

    st = js(cli("stats", "rev", "--json"))
    assert (st["examples"], st["labelled"], st["label_counts"]) == (3, 3, {"pos": 1, "neg": 2})

    for suffix in (".csv", ".jsonl", ".parquet"):
        cli("export", "rev", str(tmp_path / f"out{suffix}"))
        cli("datasets", "create", f"copy{suffix[1:]}", "--task", "single_label", "--labels", "pos,neg")
        assert js(cli("import", f"copy{suffix[1:]}", str(tmp_path / f"out{suffix}"), "--json"))["imported"] == 3
        assert js(cli("stats", f"copy{suffix[1:]}", "--json"))["label_counts"] == {"pos": 1, "neg": 2}
    names = [d["name"] for d in js(cli("datasets", "list", "--json"))]
    assert names == ["rev", "copycsv", "copyjsonl", "copyparquet"]


def test_a_local_file_is_not_held_to_the_upload_limit(cli, tmp_path, monkeypatch, services, admin):
    """The upload limit guards the server against web uploads; the CLI reads a file of its own user."""
    monkeypatch.setenv("FTDEMO_MAX_UPLOAD_MB", "1")
    data = tmp_path / "big.csv"
    data.write_text("text,label\n" + "".join(f"review number {i} {'words ' * 10},pos\n" for i in range(30_000)))
    assert data.stat().st_size > 2 * 2**20
    cli("datasets", "create", "big", "--task", "single_label", "--labels", "pos,neg")
    assert js(cli("import", "big", str(data), "--json"))["imported"] == 30_000
    services.datasets.create("web", "single_label", ["pos", "neg"], actor=admin)
    services.transfer.settings = dataclasses.replace(services.settings, max_upload_mb=1)
    with pytest.raises(InvalidInputError, match="upload limit"):
        services.transfer.import_file("web", data, actor=admin)


@pytest.mark.parametrize("args,message", [
    (("stats", "nope"), "no dataset named 'nope'"),
    (("label", "rev", "999", "pos", "--annotator", "a"), "example 999 is not in dataset 'rev'"),
    (("label", "rev", "1", "posi", "--annotator", "a"), "'posi' is not in this dataset's labels: pos, neg"),
    (("datasets", "create", "rev", "--task", "pair", "--labels", "a,b"), "already exists"),
    (("import", "rev", "/no/such/file.csv"), "does not exist"),
    (("import", "rev", "notes.docx"), "csv"),
])
def test_bad_input_exits_nonzero_with_one_line(cli, tmp_path, args, message):
    from ftdemo.services import Actor, Services
    from ftdemo.settings import Settings

    sv = Services(Settings(data_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'cli.db'}"))  # set up in-process
    sv.datasets.create("rev", "single_label", "pos,neg", actor=Actor.local())
    sv.annotate.add("rev", "hello", actor=Actor.local())
    sv.close()
    (tmp_path / "notes.docx").write_bytes(b"PK")
    proc = cli(*args, ok=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr


def test_multi_label_and_pair_from_cli(cli, tmp_path):
    cli("datasets", "create", "t", "--task", "multi_label", "--labels", "a,b,c")
    f = tmp_path / "t.jsonl"
    f.write_text('{"text": "one", "labels": ["a", "c"]}\n{"text": "two", "labels": []}\n', encoding="utf-8")
    assert js(cli("import", "t", str(f), "--json"))["imported"] == 2
    two = js(cli("examples", "t", "--unlabelled", "--json"))[0]
    assert js(cli("label", "t", str(two["id"]), "b,a", "--annotator", "x", "--json"))["labels"] == ["a", "b"]
    cli("datasets", "create", "p", "--task", "pair", "--labels", "yes,no")
    f = tmp_path / "p.csv"
    f.write_text("premise,hypothesis,label\nA cat sleeps.,An animal rests.,yes\n", encoding="utf-8")
    cli("import", "p", str(f), "--pair-col", "hypothesis", "--text-col", "premise")
    assert js(cli("examples", "p", "--json"))[0]["text_pair"] == "An animal rests."


def test_db_url_from_environment(tmp_path):
    env = {"FTDEMO_DB_URL": f"sqlite:///{tmp_path / 'env.db'}", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "ftdemo", "datasets", "create", "e", "--task", "pair", "--labels", "a,b"],
                   check=True, env=env, capture_output=True, timeout=120)
    assert (tmp_path / "env.db").exists()


def test_a_pair_dataset_names_its_texts_from_the_cli(tmp_path, capsys):
    from ftdemo.cli import main

    db = f"sqlite:///{tmp_path / 'names.db'}"
    assert main(["datasets", "create", "qa", "--task", "pair", "--labels", "yes,no", "--text-name", "Question",
                 "--pair-name", "Passage", "--db", db, "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert (created["text_name"], created["pair_name"]) == ("Question", "Passage")
