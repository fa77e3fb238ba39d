import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.settings import Settings, parse_users


def test_users_parse_roles():
    users = parse_users("alice:pw:admin, bob:secret:annotator,carol:x")
    assert users["alice"].is_admin and not users["bob"].is_admin and users["carol"].role == "annotator"


@pytest.mark.parametrize("spec", ["alice", "alice:pw:root", ":pw"])
def test_users_bad_entries_explain_the_format(spec):
    with pytest.raises(InvalidInputError, match="FTDEMO_USERS"):
        parse_users(spec)


def test_settings_from_env(tmp_path):
    s = Settings.from_env({"FTDEMO_DATA_DIR": str(tmp_path), "FTDEMO_MAX_TEXT_CHARS": "100"})
    assert s.db_url == f"sqlite:///{tmp_path / 'ftdemo.db'}" and s.max_text_chars == 100
    assert Settings.from_env({"FTDEMO_DB_URL": "sqlite:///x.db"}, db_url="sqlite:///y.db").db_url == "sqlite:///y.db"
    with pytest.raises(InvalidInputError, match="whole number"):
        Settings.from_env({"FTDEMO_PORT": "eighty"})


@pytest.mark.parametrize(("name", "key", "default"), [("FTDEMO_TEMP_FILE_HOURS", "temp_file_hours", 1.0),
                                                     ("FTDEMO_SESSION_HOURS", "session_hours", 12.0),
                                                     ("FTDEMO_LOGIN_BACKOFF_S", "login_backoff_s", 1.0)])
def test_positive_numbers_from_env(name, key, default):
    assert getattr(Settings.from_env({name: "0.5"}), key) == 0.5
    assert getattr(Settings(), key) == default
    for bad in ("soon", "0", "-1"):
        with pytest.raises(InvalidInputError, match=name):
            Settings.from_env({name: bad})


def test_on_a_space_with_persistent_storage_data_and_models_go_to_data(tmp_path, monkeypatch):
    from ftdemo import settings as config
    from ftdemo.store import filesystem

    persistent = tmp_path / "data"  # stands in for the /data volume a Space mounts
    persistent.mkdir()
    monkeypatch.setattr(config, "SPACES_PERSISTENT_DIR", persistent)
    s = Settings.from_env({"SPACE_ID": "me/labeller"})
    assert s.data_dir == persistent / "ftdemo" and s.models_dir == persistent / "ftdemo" / "models"
    assert s.db_url == f"sqlite:///{persistent / 'ftdemo' / 'ftdemo.db'}"
    assert filesystem.ephemeral_storage_warning(s, {"SPACE_ID": "me/labeller"}) is None
    # FTDEMO_DATA_DIR still wins; off a Space /data is not used even if it exists
    assert Settings.from_env({"SPACE_ID": "x", "FTDEMO_DATA_DIR": str(tmp_path / "d")}).data_dir == tmp_path / "d"
    assert Settings.from_env({}).data_dir == config.SAMPLES_DIR


def test_on_a_space_without_persistent_storage_the_start_warns(tmp_path, monkeypatch):
    from ftdemo import settings as config
    from ftdemo.store import filesystem

    monkeypatch.setattr(config, "SPACES_PERSISTENT_DIR", tmp_path / "absent")
    s = Settings.from_env({"SPACE_ID": "me/labeller"})
    assert s.data_dir == config.SAMPLES_DIR  # the Space's ephemeral disk
    assert "lost when the Space restarts" in filesystem.ephemeral_storage_warning(s, {"SPACE_ID": "me/labeller"})
    assert filesystem.ephemeral_storage_warning(s, {}) is None  # not on a Space: nothing to say
    on_postgres = s.replace(db_url="postgresql://db/ftdemo")  # the models still live on the ephemeral disk
    assert "the models" in filesystem.ephemeral_storage_warning(on_postgres, {"SPACE_ID": "x"})


def test_every_ftdemo_variable_the_code_reads_is_in_the_readme_table():
    import re

    from ftdemo.settings import REPO_ROOT

    sources = [p.read_text(encoding="utf-8") for p in (REPO_ROOT / "ftdemo").rglob("*.py")]
    sources.append((REPO_ROOT / "app.py").read_text(encoding="utf-8"))
    used = {m for text in sources for m in re.findall(r"FTDEMO_[A-Z][A-Z_]*[A-Z]", text)}
    table = {m for line in (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
             if line.startswith("| `FTDEMO_") for m in re.findall(r"FTDEMO_[A-Z][A-Z_]*[A-Z]", line)}
    assert used and used <= table, f"missing from the README's configuration table: {sorted(used - table)}"


@pytest.mark.parametrize(("env", "host", "port"), [
    ({}, "127.0.0.1", 7860),
    ({"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861"}, "0.0.0.0", 7861),  # what a Space sets
    ({"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861", "FTDEMO_HOST": "127.0.0.2",
      "FTDEMO_PORT": "8000"}, "127.0.0.2", 8000),  # FTDEMO_* first
    ({"GRADIO_SERVER_PORT": "7861", "FTDEMO_HOST": "::1"}, "::1", 7861),  # each one on its own
])
def test_where_to_listen_honours_gradios_variables_after_ours(env, host, port):
    s = Settings.from_env(env)
    assert (s.host, s.port) == (host, port)
    assert Settings.from_env(env, host="10.0.0.1", port=9000).port == 9000  # `serve --host/--port` win


@pytest.mark.parametrize(("env", "says"), [({"GRADIO_SERVER_PORT": "http"}, "GRADIO_SERVER_PORT must be a whole number"),
                                           ({"FTDEMO_PORT": "eighty", "GRADIO_SERVER_PORT": "1"}, "FTDEMO_PORT"),
                                           ({"GRADIO_SERVER_PORT": "70000"}, "port from 0 to 65535")])
def test_a_bad_port_names_the_variable_it_came_from(env, says):
    with pytest.raises(InvalidInputError, match=says):
        Settings.from_env(env)


@pytest.mark.parametrize(("value", "zero"), [("true", True), ("True", True), ("1", True), ("t", True),
                                             ("false", False), ("0", False), ("", False), (None, False)])
def test_zero_gpu_is_detected_as_the_spaces_package_detects_it(value, zero):
    from spaces.config import boolean  # the package's own reading of SPACES_ZERO_GPU

    from ftdemo.settings import on_zero_gpu

    env = {} if value is None else {"SPACES_ZERO_GPU": value}
    assert on_zero_gpu(env) is zero is boolean(value) and Settings.from_env(env).zero_gpu is zero
    assert Settings.from_env(env).serving_device == ("cpu" if zero else "auto")


def test_the_zero_gpu_call_cap_is_a_positive_number_of_seconds():
    assert Settings().zerogpu_max_s == 300 and Settings.from_env({"FTDEMO_ZEROGPU_MAX_S": "120"}).zerogpu_max_s == 120
    for bad in ("0", "2m"):
        with pytest.raises(InvalidInputError, match="FTDEMO_ZEROGPU_MAX_S"):
            Settings.from_env({"FTDEMO_ZEROGPU_MAX_S": bad})


def test_training_workers_settings(tmp_path):
    s = Settings.from_env({"FTDEMO_DATA_DIR": str(tmp_path), "FTDEMO_TRAINING": "Workers",
                           "FTDEMO_MODELS_DIR": str(tmp_path / "shared"), "FTDEMO_RUN_LEASE_S": "12.5"})
    assert (s.training, s.models_dir, s.run_lease_s) == ("workers", tmp_path / "shared", 12.5)
    default = Settings.from_env({"FTDEMO_DATA_DIR": str(tmp_path)})
    assert (default.training, default.models_dir, default.run_lease_s) == ("local", tmp_path / "models", 30.0)
    with pytest.raises(InvalidInputError, match="FTDEMO_TRAINING must be 'local'.*or 'workers'"):
        Settings.from_env({"FTDEMO_TRAINING": "cluster"})
    for bad in ("soon", "3"):  # a lease shorter than five heartbeats would interrupt live runs
        with pytest.raises(InvalidInputError, match="FTDEMO_RUN_LEASE_S"):
            Settings.from_env({"FTDEMO_RUN_LEASE_S": bad})
