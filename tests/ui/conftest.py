"""Fixtures for UI handler tests: datasets made through the real services (tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ftdemo.services import Actor, Services
from ftdemo.settings import Settings, User


@pytest.fixture
def auth_settings(tmp_path: Path, migrated_db: Path) -> Settings:
    shutil.copy(migrated_db, tmp_path / "ftdemo.db")
    return Settings(data_dir=tmp_path, seed_demo=False,
                    users={"ada": User("ada", "pw-a", "admin"), "ann": User("ann", "pw-b", "annotator")})


def make_dataset(services: Services, name: str, task: str, labels: list[str], texts: list, actor: Actor) -> str:
    services.datasets.create(name, task, labels, actor=actor)
    for text in texts:
        first, second = text if isinstance(text, tuple) else (text, None)
        services.annotate.add(name, first, second, actor=actor)
    return name


@pytest.fixture
def make(services: Services, admin: Actor):
    """make(name, task, labels, texts) -> name: a dataset with examples, created by an admin."""
    return lambda name, task, labels, texts: make_dataset(services, name, task, labels, texts, admin)


@pytest.fixture
def reviews(services: Services, admin: Actor) -> str:
    """single_label, labels pos/neg/neu, five unlabelled examples (ids 1..5)."""
    return make_dataset(services, "reviews", "single_label", ["pos", "neg", "neu"],
                        ["great phone", "awful battery", "it is blue", "love it", "<img src=x onerror=alert(1)>"], admin)


@pytest.fixture
def topics(services: Services, admin: Actor) -> str:
    return make_dataset(services, "topics", "multi_label", ["sports", "politics", "tech"],
                        ["match report", "election tech"], admin)


@pytest.fixture
def pairs(services: Services, admin: Actor) -> str:
    return make_dataset(services, "pairs", "pair", ["entailment", "neutral", "contradiction"],
                        [("A man sleeps.", "A person rests."), ("It rains.", "The sun shines.")], admin)
