"""Fixtures for the security suite: real services with logins and the real app on a free port.

Helpers and constants live in secapp.py; the hostile strings in payloads.py. `xss_world` is
session-scoped: it trains two tiny models, and both XSS modules use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from payloads import HARMLESS, NON_EMPTY, SHORT, TWIN, XSS, twin_of
from secapp import ALICE, DATASET, SECRET, USERS, Running, make_settings, serve
from tiny import FAST_TRAIN

from ftdemo.errors import AlreadyExistsError, InvalidInputError
from ftdemo.services import Actor, Services


@pytest.fixture(scope="module")
def auth_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Services with alice (admin) and bob (annotator), and a dataset holding SECRET."""
    services = Services(make_settings(tmp_path_factory.mktemp("secure"), users=dict(USERS)))
    services.datasets.create(DATASET, "single_label", ["pos", "neg"], actor=ALICE)
    for text in (SECRET, "great phone", "awful battery"):
        services.annotate.add(DATASET, text, actor=ALICE)
    yield services
    services.close()


@pytest.fixture(scope="module")
def secured(auth_services: Services) -> Iterator[Running]:
    """The real app with FTDEMO_USERS set, served on a free localhost port."""
    with serve(auth_services) as running:
        yield running


# --- a store full of hostile strings (and a harmless twin to compare the markup with) -----------------

FAST = {**FAST_TRAIN, "max_length": 64, "early_stopping_patience": 0}


def fill(services: Services, name: str, strings: dict[str, str], labels: list[str], pair_name: str) -> None:
    """`name`: one unlabelled example per string, added by an annotator of that name; six labelled
    examples per label (texts quoting the label) for training. `pair_name`: the strings as pairs."""
    admin = Actor.local(labels[0])
    services.datasets.create(name, "single_label", labels, actor=admin)
    people = list(strings.values())
    for text in people:
        services.annotate.add(name, text, actor=Actor.local(text))
    for i in range(6):
        for j, label in enumerate(labels):
            who = Actor.local(people[(i + j) % len(people)])
            services.annotate.add(name, f"{label} {i}", labels=[label], actor=who)
    services.datasets.create(pair_name, "pair", labels[:3], actor=admin)
    for text in people:
        services.annotate.add(pair_name, text, text, labels=[labels[0]], actor=Actor.local(text))


@pytest.fixture(scope="session")
def xss_world(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir) -> Iterator[Services]:
    """Datasets XSS and TWIN (and XSS-pair, TWIN-pair): payload texts, labels and annotator names, each with
    a trained model version and a failed run whose error quotes the payloads; plus one empty dataset per
    payload that the store accepts as a name. No login: everyone is a local admin."""
    services = Services(make_settings(tmp_path_factory.mktemp("xss"), max_text_chars=20_000))  # the 10k token fits
    twin = {key: twin_of(value, key) for key, value in NON_EMPTY.items()}
    fill(services, XSS, dict(NON_EMPTY), list(SHORT.values()), f"{XSS}-pair")
    fill(services, TWIN, twin, [twin[k] for k in SHORT], f"{TWIN}-pair")
    for name, hostile in ((XSS, " ".join(SHORT.values())), (TWIN, HARMLESS)):
        run = services.training.train_sync(name, {**FAST, "base_model": str(tiny_model_dir)}, actor=Actor.local())
        assert run["status"] == "succeeded", run["error"]
        failed = services.training.train_sync(name, {**FAST, "base_model": f"/nonexistent/{hostile}"},
                                              actor=Actor.local())
        assert failed["status"] == "failed"
        check = services.training.check_sync(name, {**FAST, "base_model": f"/nonexistent/{hostile}", "folds": 2},
                                             actor=Actor.local())
        assert (check["kind"], check["status"]) == ("check", "failed")  # the Review tab's check card shows it
    for value in NON_EMPTY.values():
        with contextlib.suppress(InvalidInputError, AlreadyExistsError):  # names with '/' or > 100 characters
            services.datasets.create(value, "single_label", ["a", "b"], actor=Actor.local())
    yield services
    services.close()
