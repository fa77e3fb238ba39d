import pytest

from ftdemo.config import Settings, parse_users
from ftdemo.errors import InvalidInputError


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
