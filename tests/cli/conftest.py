import pytest

from ftdemo.cli import main


@pytest.fixture
def cli(settings, monkeypatch, capsys):
    """cli(*args) -> (exit code, stdout, stderr) of `python -m ftdemo ARGS --db <fresh database>`, in-process."""
    monkeypatch.setenv("FTDEMO_DATA_DIR", str(settings.data_dir))

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--db", settings.db_url])
        out, err = capsys.readouterr()
        return code, out, err

    return run
