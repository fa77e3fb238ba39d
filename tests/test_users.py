"""Logins: FTDEMO_USERS refuses what it could misread, a users file holds scrypt hashes (written by
`python -m ftdemo users add`), and the login check takes either in constant time."""

from __future__ import annotations

import io
import json
import tomllib

import pytest

from ftdemo.errors import AlreadyExistsError, InvalidInputError
from ftdemo.settings import Settings, parse_users


@pytest.mark.parametrize("spec, problem", [
    ("alice:Tr0ub4dor,3xtra:admin", "the password of '3xtra' is the role name 'admin'"),
    ("alice:pw:admin,bob:annotator", "the password of 'bob' is the role name 'annotator'"),
    ("alice:admin:admin", "the password of 'alice' is the role name 'admin'"),
    ("alice:pw1,alice:pw2:admin", "the user 'alice' appears twice"),
    ("alice:pw,,bob:pw", "an entry is empty"),
    ("alice:pw,", "an entry is empty"),
    (",alice:pw", "an entry is empty"),
    ("alice::admin", "a part is empty"),
    ("alice:pw:", "a part is empty"),
    ("alice :pw", "a part is empty or has spaces around it"),
    ("alice:p:w:admin", "4 ':'-separated parts"),
    ("alice", "1 ':'-separated parts"),
])
def test_ambiguous_ftdemo_users_are_refused_saying_how_to_write_them(spec, problem):
    with pytest.raises(InvalidInputError) as err:
        parse_users(spec)
    message = str(err.value)
    assert problem in message and "name:password[:admin|annotator]" in message
    assert "cannot contain ',' or ':'" in message and "FTDEMO_USERS_FILE" in message
    assert "Tr0ub4dor" not in message and "pw1" not in message  # passwords never reach a log


def test_clear_ftdemo_users_still_work():
    users = parse_users("alice:pw:admin, bob:secret:annotator,carol:x")
    assert [(u.name, u.role) for u in users.values()] == [("alice", "admin"), ("bob", "annotator"), ("carol", "annotator")]
    assert parse_users("") == {} and parse_users("  ") == {}


def test_hashes_are_salted_self_describing_scrypt():
    from ftdemo.users import hash_password, verify_password

    first, second = hash_password("s3cret, with a comma"), hash_password("s3cret, with a comma")
    assert first != second  # a random salt each time
    algorithm, n, r, p, salt, digest = first.split("$")
    assert (algorithm, n, r, p) == ("scrypt", "16384", "8", "1") and salt and digest
    assert verify_password(first, "s3cret, with a comma") and not verify_password(first, "s3cret")


def add(path, name, password, *extra):
    """`python -m ftdemo users add NAME --file PATH --password-stdin ...` with the password on stdin."""
    import sys

    from ftdemo.cli import main

    stdin, sys.stdin = sys.stdin, io.StringIO(password + "\n")
    try:
        return main(["users", "add", name, "--file", str(path), "--password-stdin", *extra])
    finally:
        sys.stdin = stdin


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_users_file_made_by_the_cli_signs_people_in(tmp_path, capsys, suffix):
    from ftdemo.ui.auth import make_auth

    path = tmp_path / f"users{suffix}"
    assert add(path, "alice", "Tr0ub4dor,3xtra:admin", "--role", "admin") == 0
    assert add(path, "bob", "b0b's pw") == 0
    out = capsys.readouterr().out
    assert "saved bob (annotator)" in out and "Tr0ub4dor" not in out and "b0b" not in out
    text = path.read_text(encoding="utf-8")
    assert "Tr0ub4dor" not in text and text.count("scrypt$") == 2
    data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    assert [(u["name"], u["role"]) for u in data["users"]] == [("alice", "admin"), ("bob", "annotator")]
    assert oct(path.stat().st_mode & 0o777) == "0o600"

    settings = Settings.from_env({"FTDEMO_DATA_DIR": str(tmp_path), "FTDEMO_USERS_FILE": str(path)})
    assert settings.auth_enabled and settings.users["alice"].is_admin and not settings.users["bob"].is_admin
    check = make_auth(settings)
    assert check("alice", "Tr0ub4dor,3xtra:admin") and check("bob", "b0b's pw")
    assert not check("alice", "Tr0ub4dor") and not check("bob", "") and not check("mallory", "b0b's pw")


def test_users_add_asks_twice_without_echo(tmp_path, monkeypatch, capsys):
    import getpass

    from ftdemo.cli import main
    from ftdemo.ui.auth import make_auth

    answers = iter(["first try", "typo"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    path = tmp_path / "users.toml"
    assert main(["users", "add", "carol", "--file", str(path)]) == 2
    assert "the two passwords differ; nothing was written" in capsys.readouterr().err and not path.exists()
    answers = iter(["same", "same"])
    assert main(["users", "add", "carol", "--file", str(path)]) == 0
    assert make_auth(Settings.from_env({"FTDEMO_USERS_FILE": str(path)}))("carol", "same")


def test_users_add_refuses_a_second_alice_unless_replacing(tmp_path, capsys):
    from ftdemo.ui.auth import make_auth
    from ftdemo.users import add_user

    path = tmp_path / "users.toml"
    add_user(path, "alice", "old", "annotator")
    with pytest.raises(AlreadyExistsError, match="add --replace"):
        add_user(path, "alice", "new", "admin")
    assert add(path, "alice", "new", "--role", "admin", "--replace") == 0
    settings = Settings.from_env({"FTDEMO_USERS_FILE": str(path)})
    assert settings.users["alice"].is_admin and make_auth(settings)("alice", "new")
    assert not make_auth(settings)("alice", "old")


def test_the_file_defaults_to_ftdemo_users_file(tmp_path, monkeypatch):
    import sys

    from ftdemo.cli import main

    path = tmp_path / "from-env.json"
    monkeypatch.setenv("FTDEMO_USERS_FILE", str(path))
    monkeypatch.setattr(sys, "stdin", io.StringIO("pw-d\n"))
    assert main(["users", "add", "dave", "--password-stdin"]) == 0 and "dave" in path.read_text()


@pytest.mark.parametrize("content, message", [
    ('[[users]]\nname = "a"\nrole = "admin"\npassword = "plain"\n', "hashes, never passwords"),
    ('[[users]]\nname = "a"\nrole = "root"\npassword_hash = "x"\n', "role 'root' for 'a' must be admin or annotator"),
    ('[[users]]\nname = "a"\npassword_hash = "md5$abc"\n', "must look like scrypt$n$r$p$salt$hash"),
    ('[[users]]\nname = "a"\npassword_hash = "scrypt$1073741824$8$1$c2FsdA==$aGFzaA=="\n', "out of range"),
    ('[[users]]\nname = "a:b"\npassword_hash = "x"\n', "without ':', ','"),
    ('users = "alice"\n', "must hold a list 'users'"),
    ("not toml at all [", "cannot be read"),
])
def test_a_damaged_users_file_is_refused_at_start(tmp_path, content, message):
    path = tmp_path / "users.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError) as err:
        Settings.from_env({"FTDEMO_USERS_FILE": str(path)})
    assert message in str(err.value)


def test_a_name_in_a_file_twice_or_in_both_sources_is_refused(tmp_path):
    from ftdemo.users import add_user

    path = tmp_path / "users.toml"
    add_user(path, "alice", "pw", "admin")
    doubled = path.read_text() + path.read_text().split("\n", 1)[1]
    (tmp_path / "double.toml").write_text(doubled)
    with pytest.raises(InvalidInputError, match="the user 'alice' appears twice"):
        Settings.from_env({"FTDEMO_USERS_FILE": str(tmp_path / "double.toml")})
    with pytest.raises(InvalidInputError, match="in both FTDEMO_USERS and the users file"):
        Settings.from_env({"FTDEMO_USERS_FILE": str(path), "FTDEMO_USERS": "alice:other:annotator"})
    both = Settings.from_env({"FTDEMO_USERS_FILE": str(path), "FTDEMO_USERS": "bob:pw-b"})
    assert sorted(both.users) == ["alice", "bob"]


def test_a_missing_users_file_is_an_error_not_an_open_app(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist; create it with `python -m ftdemo users add"):
        Settings.from_env({"FTDEMO_USERS_FILE": str(tmp_path / "nope.toml")})


def test_bad_names_and_suffixes_are_refused_before_asking_for_a_password(tmp_path, capsys):
    from ftdemo.cli import main

    assert main(["users", "add", "a:b", "--file", str(tmp_path / "u.toml")]) == 2
    assert "user name 'a:b'" in capsys.readouterr().err
    assert add(tmp_path / "users.yaml", "alice", "pw") == 2
    assert "must end in .json or .toml" in capsys.readouterr().err
    assert add(tmp_path / "u.toml", "alice", "") == 2
    assert "--password-stdin read an empty line" in capsys.readouterr().err
