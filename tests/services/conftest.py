import pytest

from ftdemo.config import Settings
from ftdemo.services import Actor, Services


@pytest.fixture
def services(tmp_path):
    sv = Services(Settings(data_dir=tmp_path, seed_demo=False))
    yield sv
    sv.close()


@pytest.fixture
def admin():
    return Actor("alice", "admin")


@pytest.fixture
def annotator():
    return Actor("bob", "annotator")
