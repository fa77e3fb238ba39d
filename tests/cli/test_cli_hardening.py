"""The CLI on hostile or careless input: one-line errors with exit code 2, never a traceback; output that
cannot smuggle terminal escapes. Runs `ftdemo.cli.main` in-process on a fresh database."""

from __future__ import annotations

import pytest

from ftdemo.cli import main


@pytest.fixture
def cli(settings, monkeypatch, capsys):
    """cli(*args) -> (exit code, stdout, stderr) of `python -m ftdemo ARGS --db <fresh database>`."""
    monkeypatch.setenv("FTDEMO_DATA_DIR", str(settings.data_dir))

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--db", settings.db_url])
        out, err = capsys.readouterr()
        return code, out, err

    return run


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
