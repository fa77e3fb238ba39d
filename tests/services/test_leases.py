"""Leases: an example handed out to one annotator is not handed to another at the same time."""

import datetime as dt
import threading

from sqlalchemy import select, update
from threads import run_together

from ftdemo.services import Actor
from ftdemo.store import repo
from ftdemo.store.schema import Lease, utcnow

A, B = Actor("ann", "annotator"), Actor("bob", "annotator")


def _dataset(services, name="q", n=6):
    services.datasets.create(name, "single_label", "pos,neg", actor=Actor("ada"))
    with services.db.write() as s:
        return repo.add_examples(s, repo.get_dataset(s, name), [repo.NewExample(f"text {i}") for i in range(n)],
                                 created_by="t")


def test_a_leased_example_goes_to_the_next_annotator_only_when_released(services):
    ids = _dataset(services)
    first = services.annotate.next("q", A)
    assert first.id == ids[0]
    assert services.annotate.next("q", B).id == ids[1]  # the first is ann's for now
    assert services.annotate.next("q", A).id == ids[0]  # asking again: the same one, still theirs
    services.annotate.skip("q", ids[0], actor=A)  # skipping releases it ...
    assert services.annotate.next("q", Actor("cat", "annotator")).id == ids[0]  # ... so cat may have it
    services.annotate.label("q", ids[1], "pos", actor=B)
    assert services.annotate.next("q", A).id == ids[2]  # labelled: gone from every queue


def test_a_new_hand_out_replaces_the_annotators_lease(services):
    ids = _dataset(services)
    assert services.annotate.next("q", A).id == ids[0]
    assert services.annotate.next("q", A, exclude=[ids[0]]).id == ids[1]  # ann moved on: one lease per dataset
    assert services.annotate.next("q", B).id == ids[0]
    with services.db.read() as s:
        assert sorted(s.execute(select(Lease.annotator, Lease.example_id)).all()) == [("ann", ids[1]), ("bob", ids[0])]


def test_an_expired_lease_no_longer_holds_the_example(services):
    ids = _dataset(services)
    services.annotate.next("q", A)
    with services.db.write() as s:  # as if ann walked away FTDEMO_LEASE_S ago
        s.execute(update(Lease).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert services.annotate.next("q", B).id == ids[0]


def test_overlap_hands_out_examples_others_hold(services):
    ids = _dataset(services)
    services.annotate.next("q", A)
    assert services.annotate.next("q", B, overlap=True).id == ids[0]


def test_an_empty_queue_releases_the_lease(services):
    [only] = _dataset(services, n=1)
    assert services.annotate.next("q", A).id == only
    assert services.annotate.next("q", A, exclude=[only]) is None
    assert services.annotate.next("q", B).id == only  # ann holds nothing now


def test_annotators_asking_at_once_never_get_the_same_example(services):
    """16 annotators ask for their next example at the same moment, three times each (labelling nothing):
    every hand-out of a round is a different example, on both backends (the write lock serialises them)."""
    ids = _dataset(services, n=60)
    people = [Actor(f"p{k}", "annotator") for k in range(16)]
    for _ in range(3):
        barrier = threading.Barrier(len(people))
        got: dict[str, int] = {}

        def ask(actor: Actor) -> None:
            barrier.wait(10)
            view = services.annotate.next("q", actor, order="shuffled", seed=3)
            got[actor.name] = view.id

        errors = run_together(ask, [(p,) for p in people])
        assert errors == [] and len(got) == len(people)
        assert len(set(got.values())) == len(people), got
        assert set(got.values()) <= set(ids)
