"""`users add`: put a login with a hashed password into a users file (FTDEMO_USERS_FILE).

The password is asked for twice without echo (getpass), or read from the first line of stdin with
--password-stdin for scripts; it never appears on the command line, in the output or in the file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ftdemo.cli.common import shown
from ftdemo.errors import InvalidInputError
from ftdemo.users import ROLES


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    users = sub.add_parser("users", parents=[common], help="logins with hashed passwords in a users file")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    p = users_sub.add_parser("add", parents=[common],
                             help="add a user to a users file (created if missing); asks for the password")
    p.add_argument("name")
    p.add_argument("--role", choices=ROLES, default="annotator")
    p.add_argument("--file", help="the users file, .toml or .json (default: $FTDEMO_USERS_FILE)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input (for scripts)")
    p.add_argument("--replace", action="store_true", help="change the password and role of a user already there")
    p.set_defaults(handler=users_add, needs_services=False)  # a users file needs no database


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise InvalidInputError("--password-stdin read an empty line; pipe the password in, e.g. "
                                    "`printf '%s\\n' \"$PW\" | python -m ftdemo users add ...`")
        return password
    import getpass

    password = getpass.getpass(f"Password for {args.name}: ")
    if not password:
        raise InvalidInputError("a password cannot be empty; nothing was written")
    if getpass.getpass("The same password again: ") != password:
        raise InvalidInputError("the two passwords differ; nothing was written")
    return password


def users_add(args: argparse.Namespace, _sv: Any) -> tuple[str, Any]:
    from ftdemo.settings import users_file_path
    from ftdemo.users import add_user, check_user_name

    path = Path(args.file).expanduser() if args.file else users_file_path()
    if path is None:
        raise InvalidInputError("name the users file: --file users.toml (or set FTDEMO_USERS_FILE)")
    check_user_name(args.name)  # before asking for a password
    user = add_user(path, args.name, _password(args), args.role, replace=args.replace)
    return (f"saved {shown(user.name)} ({user.role}) in {shown(path)}; the app reads it when started with "
            f"FTDEMO_USERS_FILE={shown(path)}"), {"name": user.name, "role": user.role, "file": str(path)}
