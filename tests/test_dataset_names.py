"""One rule for dataset names (tasks.validate_dataset_name), checked when a dataset is created and used by
every consumer: the store, the model registry's folders, training. A name the registry cannot store must
never get as far as a training run that fails at save."""

import re

import pytest

from ftdemo import tasks
from ftdemo.errors import InvalidInputError
from ftdemo.models.registry import Registry

BAD = [
    ("back\\slash", "contains a slash"),
    ("a/b", "contains a slash"),
    ("tab\there", "control or invisible character U+0009"),
    ("new\nline", "control or invisible character U+000A"),
    ("esc\x1b[2J", "control or invisible character U+001B"),
    ("bidi\u202etxt.exe", "control or invisible character U+202E"),
    ("lone\ud800", "control or invisible character U+D800"),
    ("x" * 101, "has 101 characters"),
    ("😀" * 64, "is 256 bytes in UTF-8"),  # 64 characters, but no filesystem takes a 256-byte name
    (".hidden", "starts with '.'"),
    ("..", "starts with '.'"),
    (" padded", "starts or ends with a space"),
    ("padded ", "starts or ends with a space"),
    ("", "is empty"),
]
GOOD = ["reviews", "Kundenbewertungen 2024", "评论" * 40, "é" * 100, "x" * 100, "a.b-c_d (v2)"]


@pytest.mark.parametrize("name,reason", BAD)
def test_the_rule_names_what_is_wrong_and_what_a_name_needs(name, reason):
    with pytest.raises(InvalidInputError, match="1-100 characters") as err:
        tasks.validate_dataset_name(name)
    assert reason in str(err.value) and "folder name" in str(err.value)


@pytest.mark.parametrize("name,reason", [b for b in BAD if b[0].strip() == b[0] and b[0]])
def test_creating_a_dataset_refuses_what_the_registry_could_not_store(services, admin, name, reason):
    with pytest.raises(InvalidInputError, match="1-100 characters") as err:
        services.datasets.create(name, "single_label", "a,b", actor=admin)
    assert reason in str(err.value)
    assert services.datasets.names() == []


def test_typed_names_lose_stray_spaces_at_creation(services, admin):
    assert services.datasets.create("  reviews ", "single_label", "a,b", actor=admin).name == "reviews"
    with pytest.raises(InvalidInputError, match="is empty"):
        services.datasets.create("   ", "single_label", "a,b", actor=admin)


@pytest.mark.parametrize("name,reason", BAD)
def test_the_registry_uses_the_same_rule(tmp_path, name, reason):
    with pytest.raises(InvalidInputError, match=re.escape(reason)):
        Registry(tmp_path).list(name)


@pytest.mark.parametrize("name", GOOD)
def test_every_name_the_store_accepts_the_registry_can_store(services, admin, tmp_path, name):
    assert services.datasets.create(name, "single_label", "a,b", actor=admin).name == name
    registry = Registry(tmp_path / "models")
    assert registry.list(name) == []
    registry._dataset_dir(name, create=True)  # a real folder of that name on this filesystem
    assert (tmp_path / "models" / name).is_dir()


def test_training_refuses_a_name_stored_before_the_rule_at_once(services, admin, fast_options):
    from ftdemo.store.schema import Dataset, Label

    with services.db.write() as s:
        ds = Dataset(name="legacy\\name", task="single_label")
        ds.labels = [Label(name="a", position=0), Label(name="b", position=1)]
        s.add(ds)
    with pytest.raises(InvalidInputError, match="contains a slash"):
        services.training.train_sync("legacy\\name", fast_options, actor=admin)
    assert services.training.runs("legacy\\name") == []  # no run was queued, let alone trained
