"""Failed sign-ins back off and sessions end.

Gradio answers a wrong password at once, as often as asked (30 guesses took 77 ms, then the right one
worked), and its session tokens never expire. Here: after a few failures for a user name or from an
address, POST /login answers 429 (the right password too) for a time that doubles with each further
failure, and a token older than FTDEMO_SESSION_HOURS is dropped (the request gets a 401).
The running app uses a 2 s backoff and 6 s sessions; the rules themselves are checked on a clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from polling import wait_for
from secapp import USERS, Running, make_settings, serve_new

from ftdemo.ui.access import Sessions
from ftdemo.ui.limits import FREE_FAILURES, MAX_BACKOFF_S, Backoff, form_username

BACKOFF_S = 2.0
SESSION_S = 6.0


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(tmp_path_factory.mktemp("sessions"), users=dict(USERS), login_backoff_s=BACKOFF_S,
                             session_hours=SESSION_S / 3600)
    with serve_new(settings) as running:
        yield running


def login(http: httpx.Client, user: str, password: str) -> httpx.Response:
    return http.post("/login", data={"username": user, "password": password})


def wait_until_allowed(http: httpx.Client, user: str) -> httpx.Response:
    """Sign in as soon as the backoff allows (a success also clears this address's failures)."""
    return wait_for(lambda: (r := login(http, user, USERS[user].password)).status_code == 200 and r,
                    timeout=BACKOFF_S * 2 ** 4, every=0.25)


def test_fast_wrong_passwords_are_throttled_and_then_even_the_right_one_waits(guarded) -> None:
    with guarded.client() as http:
        statuses = [login(http, "alice", f"guess-{i}").status_code for i in range(10)]
        assert statuses[:FREE_FAILURES] == [400] * FREE_FAILURES, statuses
        assert statuses[FREE_FAILURES:] == [429] * (10 - FREE_FAILURES), statuses
        right = login(http, "alice", USERS["alice"].password)
        assert right.status_code == 429 and "try again in" in right.json()["detail"], right.text
        assert 1 <= int(right.headers["retry-after"]) <= BACKOFF_S + 1
        assert http.get("/config").status_code == 401  # no session came of it
        time.sleep(float(right.headers["retry-after"]))
        assert login(http, "alice", USERS["alice"].password).status_code == 200
        assert http.get("/config").status_code == 200


def test_guesses_sent_in_parallel_do_not_slip_through_together(guarded) -> None:
    def guess(i: int) -> int:
        with guarded.client() as http:
            return login(http, "alice", f"parallel-{i}").status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(guess, range(12)))
    assert statuses.count(400) <= FREE_FAILURES and statuses.count(429) >= 12 - FREE_FAILURES, statuses
    with guarded.client() as http:
        assert wait_until_allowed(http, "alice").status_code == 200


def test_failures_from_one_address_count_whatever_the_user_name(guarded) -> None:
    with guarded.client() as http:
        for i in range(FREE_FAILURES):
            assert login(http, f"mallory{i}", "guess").status_code == 400
        assert login(http, "bob", USERS["bob"].password).status_code == 429  # this address is waiting
        assert wait_until_allowed(http, "bob").status_code == 200


def browser_form(user: str, password: str) -> tuple[bytes, str]:
    """The sign-in form as gradio's login page posts it (multipart FormData)."""
    boundary = "----formboundary7f3a"
    fields = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                     for k, v in (("username", user), ("password", password)))
    return f"{fields}--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_the_browser_form_still_signs_in(guarded) -> None:
    body, content_type = browser_form("alice", USERS["alice"].password)
    with guarded.client() as http:
        wait_until_allowed(http, "alice")  # clear this address's failures from the tests before
        http.cookies.clear()
        assert http.post("/login", content=body, headers={"content-type": content_type}).status_code == 200
        assert http.get("/config").status_code == 200


@pytest.mark.parametrize("form", ["urlencoded", "multipart"])
def test_the_user_name_is_read_from_either_form(form) -> None:
    if form == "multipart":
        body, content_type = browser_form(" alice ", "pw")
    else:
        body, content_type = b"username=+alice+&password=pw", "application/x-www-form-urlencoded"
    scope = {"type": "http", "method": "POST", "path": "/login", "headers": [(b"content-type", content_type.encode())]}
    assert asyncio.run(form_username(scope, body)) == "alice"  # stripped, as gradio compares it


def test_an_old_session_ends(guarded) -> None:
    tokens = guarded.demo.server_app.tokens
    with guarded.client() as http:
        wait_until_allowed(http, "bob")
        token = next(t for t, user in tokens.items() if user == "bob" and t in http.cookies.values())
        assert http.get("/config").status_code == 200
        time.sleep(SESSION_S + 0.5)
        assert http.get("/config").status_code == 401
        assert token not in tokens
        assert "auth_required" in http.get("/").text  # the page is the login form again


# --- the rules, on a clock ------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_backoff_doubles_with_each_further_failure_and_a_success_clears_it() -> None:
    clock = Clock()
    backoff = Backoff(1.5, clock=clock)
    waits = []
    for _ in range(FREE_FAILURES + 3):
        assert backoff.wait("user:alice") == 0  # always let through once the last wait is over
        backoff.failed("user:alice", "address:10.0.0.1")
        waits.append(backoff.wait("user:alice"))
        clock.now += waits[-1]
    assert waits == [0] * (FREE_FAILURES - 1) + [1.5, 3.0, 6.0, 12.0]
    assert backoff.wait("user:bob", "address:10.0.0.1") == 0  # the address's wait is over too
    backoff.failed("user:alice")
    assert backoff.wait("user:alice") == 24.0
    backoff.succeeded("user:alice", "address:10.0.0.1")
    assert backoff.wait("user:alice", "address:10.0.0.1") == 0


def test_the_backoff_has_a_ceiling_and_forgets_old_failures() -> None:
    clock = Clock()
    backoff = Backoff(1.0, clock=clock)
    for _ in range(40):
        backoff.failed("user:alice")
    assert backoff.wait("user:alice") == MAX_BACKOFF_S
    clock.now += 10 * MAX_BACKOFF_S
    backoff.failed("user:alice")
    assert backoff.wait("user:alice") == 0  # a failure long after the last one starts a new count


def test_the_backoff_table_stays_small() -> None:
    backoff = Backoff(1.0, clock=Clock())
    for i in range(3 * Backoff.MAX_KEYS):
        backoff.failed(f"user:random-{i}")
    assert len(backoff) <= Backoff.MAX_KEYS


def test_sessions_expire_from_when_they_were_issued() -> None:
    clock = Clock()
    sessions = Sessions(60.0, clock=clock)
    sessions.started("t1")
    clock.now += 30
    assert not sessions.expired("t1") and not sessions.expired("t2")  # t2: first seen now
    clock.now += 31
    assert sessions.expired("t1") and not sessions.expired("t2")
    tokens = {"t1": "alice", "t2": "bob"}
    sessions.sweep(tokens)
    assert tokens == {"t2": "bob"}
