"""`serve` and app.py start-up: an unsafe database location is refused, storage is stated, Gradio's port
variable is honoured, and on ZeroGPU `spaces` loads before torch."""

import logging
import socket

import pytest

from ftdemo.cli import main
from ftdemo.settings import Settings
from ftdemo.store import filesystem


def test_serve_refuses_a_database_on_a_network_mount(tmp_path, monkeypatch, capsys):
    share = tmp_path / "share"
    share.mkdir()
    mountinfo = tmp_path / "mountinfo"  # only the mount table is faked; the rest is the real start
    mountinfo.write_text(f"27 1 254:0 / / rw - ext4 /dev/vda rw\n36 27 0:40 / {share} rw - cifs //nas/labels rw\n")
    monkeypatch.setattr(filesystem, "MOUNTINFO_PATH", mountinfo)
    monkeypatch.delenv("FTDEMO_DB_URL", raising=False)
    monkeypatch.delenv("FTDEMO_ALLOW_UNSAFE_FS", raising=False)
    monkeypatch.setenv("FTDEMO_DATA_DIR", str(share / "ftdemo"))

    assert main(["serve", "--port", "1"]) == 2  # refused before binding any port
    err = capsys.readouterr().err
    assert err.startswith("error: the database ") and "cifs filesystem (//nas/labels" in err
    assert "FTDEMO_ALLOW_UNSAFE_FS=1" in err and "FTDEMO_DATA_DIR=" in err
    assert not (share / "ftdemo" / "ftdemo.db").exists()


def test_launch_logs_sqlite_version_and_journal_mode(tmp_path, caplog):
    import sqlite3

    from ftdemo.ui.app import launch

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(data_dir=tmp_path, seed_demo=False, port=port)
    with caplog.at_level(logging.INFO, logger="ftdemo"):
        demo = launch(settings, prevent_thread_lock=True)
    demo.close()
    assert f"SQLite {sqlite3.sqlite_version}, journal mode wal" in caplog.text
    assert str(tmp_path / "ftdemo.db") in caplog.text and str(tmp_path / "models") in caplog.text


STARTUP_IMPORTS = """
import sys
from ftdemo.settings import Settings
from ftdemo.services import Services
from ftdemo.ui.app import build_app
services = Services(Settings(data_dir=sys.argv[1], seed_demo=False))
services.training.recover()
services.registry_cleanup()
build_app(services)
print(",".join(m for m in ("torch", "transformers", "datasets") if m in sys.modules))
"""


def test_the_app_starts_without_importing_torch(tmp_path):
    """torch and transformers load on the first training or prediction, not at start-up (~3 s more per start)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", STARTUP_IMPORTS, str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""


def _spaces_entry():
    """The Spaces entry point, app.py at the repository root, loaded as a module."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("spaces_entry", Path(__file__).resolve().parents[2] / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spaces_entry_refuses_a_bucket_mount_with_a_message(tmp_path, monkeypatch):
    import pytest

    bucket = tmp_path / "data"  # a Storage Bucket attached at /data is a FUSE/NFS mount
    bucket.mkdir()
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(f"27 1 254:0 / / rw - overlay overlay rw\n50 27 0:60 / {bucket} rw - fuse.hf-mount hf rw\n")
    monkeypatch.setattr(filesystem, "MOUNTINFO_PATH", mountinfo)
    for name in ("FTDEMO_DB_URL", "FTDEMO_ALLOW_UNSAFE_FS", "SPACE_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FTDEMO_DATA_DIR", str(bucket / "ftdemo"))
    with pytest.raises(SystemExit, match=r"^error: the database .* fuse\.hf-mount .*FTDEMO_ALLOW_UNSAFE_FS=1"):
        _spaces_entry().main()


def test_preflight_warns_when_a_space_has_no_persistent_storage(tmp_path, monkeypatch, caplog):
    from ftdemo import settings as config
    from ftdemo.cli.serve_cmd import preflight

    monkeypatch.setattr(config, "SPACES_PERSISTENT_DIR", tmp_path / "absent")
    monkeypatch.setenv("SPACE_ID", "me/labeller")
    with caplog.at_level(logging.WARNING, logger="ftdemo"):
        preflight(Settings(data_dir=tmp_path / "ephemeral"))
    assert "lost when the Space restarts" in caplog.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_spaces_entry_listens_on_gradio_server_port(tmp_path):
    """A Space (or a user) that sets GRADIO_SERVER_PORT gets the app there, as with any Gradio app."""
    import os
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    from polling import wait_for

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTDEMO_", "GRADIO_", "SPACE"))}
    env.update(GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", FTDEMO_DATA_DIR=str(tmp_path),
               FTDEMO_SEED_DEMO="0", GRADIO_ANALYTICS_ENABLED="False")
    app = subprocess.Popen([sys.executable, str(Path(__file__).resolve().parents[2] / "app.py")], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def answers() -> bool:
            assert app.poll() is None, "app.py exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        assert wait_for(answers, timeout=120, every=0.5)
    finally:
        app.terminate()
        app.wait(30)


FAKE_SPACES = """
import sys
print("loaded before spaces:", sorted(m for m in ("torch", "gradio") if m in sys.modules))
raise SystemExit(0)  # the start stops here: only the order matters
"""


@pytest.mark.parametrize("entry", ["app.py", "serve"])
def test_on_zero_gpu_the_entry_points_import_spaces_before_torch(entry, tmp_path):
    """ZeroGPU patches torch when `spaces` is imported and refuses to start if CUDA came first. A stand-in
    `spaces` (first on the path) reports what was loaded when it was imported, and ends the start."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    fake = tmp_path / "fake"
    (fake / "spaces").mkdir(parents=True)
    (fake / "spaces" / "__init__.py").write_text(FAKE_SPACES)
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTDEMO_", "GRADIO_", "SPACE"))}
    env.update(SPACES_ZERO_GPU="true", PYTHONPATH=os.pathsep.join([str(fake), str(root)]),
               FTDEMO_DATA_DIR=str(tmp_path / "data"))
    command = [str(root / "app.py")] if entry == "app.py" else ["-m", "ftdemo", "serve", "--port", str(_free_port())]
    done = subprocess.run([sys.executable, *command], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "loaded before spaces: []" in done.stdout


def test_launch_on_postgresql_logs_the_server_but_never_its_password(pg_database, tmp_path, caplog):
    from sqlalchemy.engine import make_url

    from ftdemo.ui.app import launch

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pg_database() as url:
        # the throwaway server trusts local connections, so a password in the URL is accepted and ignored
        with_password = make_url(url).set(password="s3cret-pw").render_as_string(hide_password=False)
        settings = Settings(data_dir=tmp_path, db_url=with_password, seed_demo=False, port=port)
        with caplog.at_level(logging.INFO, logger="ftdemo"):
            demo = launch(settings, prevent_thread_lock=True)
        demo.close()
    assert "s3cret-pw" not in caplog.text and ":***@" in caplog.text
    assert "(PostgreSQL " in caplog.text and "journal mode" not in caplog.text
