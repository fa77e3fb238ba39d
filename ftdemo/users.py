"""Who may sign in: users from FTDEMO_USERS (a demo's one-liner) or from a users file (anything beyond a
demo), their roles, and password hashes.

FTDEMO_USERS="alice:pw:admin,bob:pw" separates entries with ',' and parts with ':', so a password cannot
contain either; input that could mean two things (a password that is exactly a role name, as
"alice:Tr0ub4dor,3xtra:admin" splits into, a name twice, an empty part) is refused, not guessed at.
A users file (JSON or TOML, FTDEMO_USERS_FILE) holds only scrypt hashes of the passwords, written by
`python -m ftdemo users add`:

    [[users]]
    name = "alice"
    role = "admin"
    password_hash = "scrypt$16384$8$1$<salt, base64>$<hash, base64>"

Only ftdemo.settings reads the environment; this module works on the values it is given.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ftdemo.errors import AlreadyExistsError, InvalidInputError

ROLES = ("admin", "annotator")
SCRYPT_N, SCRYPT_R, SCRYPT_P, SALT_BYTES, HASH_BYTES = 2 ** 14, 8, 1, 16, 32  # 16 MiB and ~50 ms per check
MAX_SCRYPT_N = 2 ** 20  # a file asking for more would make every login allocate over a GiB
FILE_SUFFIXES = (".json", ".toml")
_ADD_HINT = "python -m ftdemo users add NAME --role admin --file users.toml"
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f:,]")


@dataclass(frozen=True)
class User:
    """A login. `password` is the plain text from FTDEMO_USERS; a users file gives `password_hash` instead."""

    name: str
    password: str
    role: str  # "admin" | "annotator"
    password_hash: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def check_password(self, given: str) -> bool:
        """Constant-time: no timing hint about how much of the password matched."""
        if self.password_hash:
            return verify_password(self.password_hash, given)
        return hmac.compare_digest(self.password.encode(), (given or "").encode())


# --- password hashes ------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A self-describing scrypt hash with a random salt: 'scrypt$n$r$p$salt$hash' (base64)."""
    if not password:
        raise InvalidInputError("a password cannot be empty")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p, HASH_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=2 * 128 * r * n + 2 ** 20)


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """The parts of a hash string, or InvalidInputError; bounds the cost a file can ask a login to pay."""
    parts = stored.split("$") if isinstance(stored, str) else []
    try:
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError("not scrypt$n$r$p$salt$hash")
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError as err:
        raise InvalidInputError(f"a password hash must look like scrypt$n$r$p$salt$hash ({err})") from None
    if not (2 <= n <= MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16 and salt and digest):
        raise InvalidInputError(f"a password hash has parameters out of range (n={n}, r={r}, p={p}); "
                                f"write it again with `{_ADD_HINT}`")
    return n, r, p, salt, digest


def verify_password(stored: str, given: str) -> bool:
    """Does `given` match the hash `stored`? Compared in constant time."""
    n, r, p, salt, digest = _parse_hash(stored)
    return hmac.compare_digest(_scrypt(given or "", salt, n, r, p, len(digest)), digest)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def burn_check(given: str) -> bool:
    """The work of one password check, for a name that is not a user: the time taken says nothing about
    which names exist. Always False."""
    verify_password(_dummy_hash(), given)
    return False


# --- FTDEMO_USERS --------------------------------------------------------------------------------


def _spec_error(entry: str, problem: str) -> InvalidInputError:
    shown = entry.split(":", 1)[0] if entry else entry
    return InvalidInputError(
        f"FTDEMO_USERS entry {shown!r}: {problem}. Write name:password[:admin|annotator] entries separated by "
        "',' (a password cannot contain ',' or ':'), or use a users file with hashed passwords: "
        f"FTDEMO_USERS_FILE and `{_ADD_HINT}`")


def parse_users(spec: str) -> dict[str, User]:
    """Parse FTDEMO_USERS="alice:pw:admin,bob:pw:annotator" (role defaults to annotator), refusing
    anything ambiguous (see the module docstring)."""
    users: dict[str, User] = {}
    entries = (spec or "").split(",")
    if not (spec or "").strip():
        return users
    for raw in entries:
        entry = raw.strip()
        if not entry:
            raise _spec_error(entry, "an entry is empty (two commas in a row, or one at either end); if a "
                                     "password contains ',' the entry was split there")
        parts = entry.split(":")
        if len(parts) not in (2, 3):
            raise _spec_error(entry, f"it has {len(parts)} ':'-separated parts, not 2 or 3")
        if any(not part or part != part.strip() for part in parts):
            raise _spec_error(entry, "a part is empty or has spaces around it")
        name, password = parts[0], parts[1]
        role = parts[2] if len(parts) == 3 else "annotator"
        if role not in ROLES:
            raise _spec_error(entry, f"role {role!r} for {name!r} must be admin or annotator")
        if password in ROLES:
            raise _spec_error(entry, f"the password of {name!r} is the role name {password!r}, which is what a "
                                     "password containing ',' splits into (\"alice:pass,word:admin\" reads as "
                                     "alice:pass and a user 'word' with the password 'admin')")
        if name in users:
            raise _spec_error(entry, f"the user {name!r} appears twice")
        users[name] = User(name, password, role)
    return users


# --- users files -----------------------------------------------------------------------------------


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise InvalidInputError(f"a users file must end in .json or .toml, got {path.name!r}")


def check_user_name(name: str) -> str:
    if not isinstance(name, str) or not name or name != name.strip() or len(name) > 100 or _BAD_NAME.search(name):
        raise InvalidInputError(f"user name {str(name)[:40]!r} needs 1-100 characters without ':', ',', control "
                                "characters or surrounding spaces")
    return name


def _user_from_entry(entry: object, where: str) -> User:
    if not isinstance(entry, dict):
        raise InvalidInputError(f"{where}: each user is a table/object with name, role and password_hash")
    if "password" in entry:
        raise InvalidInputError(f"{where}: a users file holds password hashes, never passwords; remove "
                                f"'password' and add the user with `{_ADD_HINT}`")
    unknown = sorted(set(entry) - {"name", "role", "password_hash"})
    if unknown:
        raise InvalidInputError(f"{where}: unknown key(s) {', '.join(unknown)}; a user has name, role and "
                                "password_hash")
    name = check_user_name(entry.get("name", ""))
    role = entry.get("role", "annotator")
    if role not in ROLES:
        raise InvalidInputError(f"{where}: role {role!r} for {name!r} must be admin or annotator")
    stored = entry.get("password_hash", "")
    try:
        _parse_hash(stored)
    except InvalidInputError as err:
        raise InvalidInputError(f"{where} ({name!r}): {err}") from None
    return User(name, "", role, password_hash=stored)


def load_users_file(path: str | Path) -> dict[str, User]:
    """The users of a JSON or TOML users file ({"users": [{name, role, password_hash}, ...]})."""
    path = Path(path)
    _check_suffix(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except FileNotFoundError:
        raise InvalidInputError(f"the users file {str(path)!r} does not exist; create it with "
                                f"`{_ADD_HINT.replace('users.toml', str(path))}`") from None
    except (OSError, ValueError, tomllib.TOMLDecodeError) as err:
        raise InvalidInputError(f"the users file {path.name!r} cannot be read ({err})") from None
    entries = data.get("users") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise InvalidInputError(f"the users file {path.name!r} must hold a list 'users' of "
                                "{name, role, password_hash}")
    users: dict[str, User] = {}
    for number, entry in enumerate(entries, 1):
        user = _user_from_entry(entry, f"{path.name}, user {number}")
        if user.name in users:
            raise InvalidInputError(f"{path.name}: the user {user.name!r} appears twice")
        users[user.name] = user
    return users


def merge_users(*groups: Iterable[User]) -> dict[str, User]:
    """One login table from several sources; a name in two of them is refused, not overridden."""
    users: dict[str, User] = {}
    for group in groups:
        for user in group:
            if user.name in users:
                raise InvalidInputError(f"the user {user.name!r} is in both FTDEMO_USERS and the users file; "
                                        "keep one of them")
            users[user.name] = user
    return users


def _toml_string(value: str) -> str:
    return json.dumps(value)  # an ASCII JSON string (\\uXXXX escapes) is a valid TOML basic string


def _render(path: Path, users: list[User]) -> str:
    rows = [{"name": u.name, "role": u.role, "password_hash": u.password_hash} for u in users]
    if path.suffix.lower() == ".json":
        return json.dumps({"users": rows}, indent=2) + "\n"
    lines = ["# ftdemo users (FTDEMO_USERS_FILE): scrypt password hashes, written by `python -m ftdemo users add`"]
    for row in rows:
        lines += ["", "[[users]]"] + [f"{key} = {_toml_string(value)}" for key, value in row.items()]
    return "\n".join(lines) + "\n"


def add_user(path: str | Path, name: str, password: str, role: str, *, replace: bool = False) -> User:
    """Add a user (or, with `replace`, change one) in a users file, creating it if needed. Written to
    a temporary file that replaces the old one, readable by its owner only."""
    path = Path(path)
    _check_suffix(path)
    check_user_name(name)
    if role not in ROLES:
        raise InvalidInputError(f"role {role!r} must be admin or annotator")
    users = load_users_file(path) if path.exists() else {}
    if name in users and not replace:
        raise AlreadyExistsError(f"{name!r} is already in {path.name}; add --replace to change their password or role")
    user = User(name, "", role, password_hash=hash_password(password))
    users[name] = user
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp: mode 0600
            out.write(_render(path, list(users.values())))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return user
