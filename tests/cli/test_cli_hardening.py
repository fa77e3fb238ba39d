"""The CLI on hostile or careless input: one-line errors with exit code 2, never a traceback; output that
cannot smuggle terminal escapes. Runs `ftdemo.cli.main` in-process on a fresh database (the `cli` fixture)."""

from __future__ import annotations

import pytest


def one_line_error(code: int, err: str) -> str:
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_deeply_nested_json_lines_are_a_one_line_error(cli, tmp_path):
    assert cli("datasets", "create", "d", "--task", "single_label", "--labels", "a,b")[0] == 0
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"text": "x", "meta": ' + "[" * 50_000 + "]" * 50_000 + "}\n", encoding="utf-8")
    line = one_line_error(*cli("import", "d", str(deep))[::2])
    assert "line 1 is nested more than 20 levels deep" in line


UNSAFE = [chr(c) for c in [*range(0x0A), *range(0x0B, 0x20), *range(0x7F, 0xA0)]] + list(
    "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def assert_nothing_raw(output: str) -> None:
    raw = sorted({f"U+{ord(c):04X}" for c in output if c in UNSAFE})
    assert not raw, f"printed raw: {raw}"


@pytest.mark.parametrize("args,message", [
    (("examples", "d", "--limit", str(10 ** 20)), "argument --limit: must be from 1 to 1000000, got 1000"),
    (("examples", "d", "--limit", "ten"), "argument --limit: must be a whole number from 1 to 1000000, got 'ten'"),
    (("examples", "d", "--limit", "0"), "argument --limit: must be from 1 to 1000000"),
    (("examples", "d", "--offset", str(10 ** 20)), "argument --offset: must be from 0 to 9223372036854775807"),
    (("label", "d", str(10 ** 20), "a", "--annotator", "x"), "argument example_id: must be from 1 to"),
    (("train", "d", "--seed", str(10 ** 20)), "argument --seed: must be from 0 to"),
    (("predict", "d", "hi", "--ig-steps", "100000"), "argument --ig-steps: must be from 1 to 1024"),
    (("bench", "train", "--threads", str(10 ** 6)), "argument --threads: must be from 0 to 512"),
    (("serve", "--port", "70000"), "argument --port: must be from 0 to 65535"),
    (("retry", "0"), "argument run_id: must be from 1 to 9223372036854775807"),
    (("worker", "--poll-s", "0"), "argument --poll-s: must be from 0.1 to 3600 seconds"),
    (("worker", "--device", "tpu"), "argument --device: invalid choice: 'tpu'"),
    (("examples",), "the following arguments are required: name"),
])
def test_bad_options_are_one_line_errors(cli, args, message):
    code, out, err = cli(*args)
    line = one_line_error(code, err)
    assert message in line and "--help" in line and out == ""


def test_a_huge_example_id_is_not_an_overflow(cli):
    cli("datasets", "create", "d", "--task", "single_label", "--labels", "a,b")
    code, _, err = cli("label", "d", str(2 ** 63 - 1), "a", "--annotator", "x")
    assert "is not in dataset 'd'" in one_line_error(code, err)


@pytest.fixture
def with_bad_rows(cli, tmp_path):
    cli("datasets", "create", "d", "--task", "single_label", "--labels", "a,b")
    path = tmp_path / "rows.csv"
    path.write_text("text,label\ngood,a\nbad,zzz\n", encoding="utf-8")
    return path


def test_strict_import_that_imports_nothing_exits_2_with_the_report(cli, with_bad_rows):
    code, out, err = cli("import", "d", str(with_bad_rows), "--strict")
    line = one_line_error(code, err)
    assert "nothing was imported (--strict): 1 rows have errors" in line and "drop --strict" in line
    assert out.startswith("imported 0, duplicates 0, errors 1") and "row 2: label 'zzz'" in out
    assert cli("stats", "d", "--json")[1].count('"examples": 0') == 1


def test_strict_import_with_json_still_prints_the_report(cli, with_bad_rows):
    import json

    code, out, err = cli("import", "d", str(with_bad_rows), "--strict", "--json")
    one_line_error(code, err)
    report = json.loads(out)
    assert (report["imported"], report["committed"], [e["row"] for e in report["errors"]]) == (0, False, [2])
    assert cli("import", "d", str(with_bad_rows), "--json")[0] == 0  # without --strict: the valid rows


def test_examples_json_answers_every_match_unless_limited(cli, services, admin):
    import json

    cli("datasets", "create", "d", "--task", "single_label", "--labels", "a,b")
    for i in range(45):
        services.annotate.add("d", f"text {i}", actor=admin)
    code, out, _ = cli("examples", "d", "--json")
    assert code == 0 and [e["text"] for e in json.loads(out)] == [f"text {i}" for i in range(45)]
    assert len(json.loads(cli("examples", "d", "--json", "--limit", "5", "--offset", "40")[1])) == 5
    code, out, _ = cli("examples", "d")
    lines = out.strip().splitlines()
    assert len(lines) == 21 and lines[-1].startswith("(1-20 of 45 examples; --offset and --limit page")
    assert cli("examples", "d", "--limit", "50")[1].strip().splitlines()[-1] == "(45 examples)"


def test_control_and_bidi_characters_are_never_printed_raw(cli, services, admin):
    import json

    from ftdemo.store.schema import Dataset, Label

    evil = "x\x1b]0;owned\x07\x1b[2J\x9b31m\u202egnp.exe\u2066\r\nfake line\x7f"
    with services.db.write() as s:  # a name stored before names were validated
        ds = Dataset(name="old" + evil[:20], task="single_label")
        ds.labels = [Label(name="a", position=0), Label(name="b", position=1)]
        s.add(ds)
    cli("datasets", "create", "d", "--task", "single_label", "--labels", "a,b")
    services.annotate.add("d", evil, text_pair=None, labels=["a"], actor=admin)
    for args in (("datasets", "list"), ("examples", "d"), ("stats", "d"), ("examples", "d", "--search", "owned")):
        code, out, err = cli(*args)
        assert code == 0, err
        assert_nothing_raw(out + err)
        assert "\\x1b]0;owned\\x07" in out or args[0] == "stats"
    code, out, err = cli("examples", "d", "--json")
    assert_nothing_raw(out)
    assert json.loads(out)[0]["text"] == services.annotate.search("d")[0][0].text  # valid, and the same string
    names = [d["name"] for d in json.loads(cli("datasets", "list", "--json")[1])]
    assert names[0] == "old" + evil[:20]  # JSON stays valid and means the same string
    code, out, err = cli("label", "d", "1", evil, "--annotator", "x")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert_nothing_raw(out + err)


def test_export_csv_without_and_with_the_excel_mark(cli, services, admin, tmp_path):
    import csv

    cli("datasets", "create", "d", "--task", "single_label", "--labels", "a,b")
    services.annotate.add("d", "naïve", labels=["a"], actor=admin)
    assert cli("export", "d", str(tmp_path / "plain.csv"))[0] == 0
    with open(tmp_path / "plain.csv", encoding="utf-8", newline="") as f:
        assert next(csv.DictReader(f))["id"] == "1"
    code, out, _ = cli("export", "d", str(tmp_path / "excel.csv"), "--excel")
    assert code == 0 and "for Excel" in out
    assert (tmp_path / "excel.csv").read_bytes().startswith("\ufeffid,".encode())
    code, _, err = cli("export", "d", str(tmp_path / "x.parquet"), "--excel")
    assert "--excel applies to .csv and .tsv exports" in one_line_error(code, err)
