"""Agreement between annotators: the per-dataset overlap setting (a share of the examples goes to k
annotators; the queue reads it in `repo.queue_candidates`) and the agreement measures over the examples
several annotators labelled (the maths: store/agreement.py).

With a share above 0 the queue's candidates are an OR of two index ranges (unlabelled examples; overlap
examples still short of k labels) that the database merges and sorts on each hand-out: fine for thousands
of examples, noticeable at hundreds of thousands (docs/benchmarks.md, "Agreement").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select

from ftdemo.errors import InvalidInputError
from ftdemo.services.base import Actor, Service, require_admin
from ftdemo.store import agreement as measures
from ftdemo.store import derived, repo
from ftdemo.store.schema import ExampleState
from ftdemo.tasks import TaskType

MAX_K = 50  # annotators per overlap example: more is a survey, not a labelling project


@dataclass(frozen=True)
class Overlap:
    """A dataset's overlap setting and how far it has come."""

    dataset: str
    share: float  # of the examples, 0..1 (0: every example goes to one annotator)
    k: int  # annotators per overlap example
    examples: int  # live examples chosen for overlap at this share
    complete: int  # of those, labelled by k annotators or more

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def message(self) -> str:
        if not self.share:
            return "no overlap: each example goes to one annotator"
        return (f"{self.share:.0%} of the examples ({self.examples}) go to {self.k} annotators each; "
                f"{self.complete} of them have all {self.k} labels")


def check_overlap(share: Any, k: Any) -> tuple[float, int]:
    """The share (0..1) and k (2..MAX_K) as numbers, or an error that says what to type."""
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= float(share) <= 1:
        raise InvalidInputError(f"the overlap share must be a number from 0 to 1 (0.1: one example in ten goes to "
                                f"several annotators); got {share!r}")
    if isinstance(k, bool) or not isinstance(k, (int, float)) or float(k) != int(k) or not 2 <= int(k) <= MAX_K:
        raise InvalidInputError(f"the number of annotators per overlap example must be a whole number from 2 to "
                                f"{MAX_K}; got {k!r}")
    return float(share), int(k)


class AgreementService(Service):
    def overlap(self, dataset: str) -> Overlap:
        """The dataset's overlap setting, with how many examples it picks and how many have all k labels."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            share, k = float(ds.overlap_share or 0.0), int(ds.overlap_k or 2)
            chosen = (ExampleState.dataset_id == ds.id, ExampleState.live.is_(True),
                      ExampleState.overlap_key < derived.overlap_threshold(share))
            examples = s.scalar(select(func.count()).where(*chosen)) if share else 0
            complete = s.scalar(select(func.count()).where(*chosen, ExampleState.annotators >= k)) if share else 0
        return Overlap(ds.name, share, k, int(examples or 0), int(complete or 0))

    def set_overlap(self, dataset: str, share: float, k: int = 2, *, actor: Actor) -> Overlap:
        """Send a share of the dataset's examples (0..1) to `k` different annotators each (admins only). Which
        examples is fixed by their id, so raising the share only adds examples; labels already made stay."""
        require_admin(actor, "change how many annotators label each example")
        share, k = check_overlap(share, k)
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            ds.overlap_share, ds.overlap_k = share, k
        return self.overlap(dataset)

    def agreement(self, dataset: str, *, resamples: int = measures.RESAMPLES,
                  seed: int = measures.SEED) -> measures.Agreement:
        """Cohen's kappa per annotator pair, Fleiss' kappa, Krippendorff's alpha and per-label values over the
        examples two or more annotators labelled, each with its items and bootstrap interval."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            ratings = measures.Ratings(repo.overlap_ratings(s, ds), repo.active_label_names(ds),
                                       TaskType(ds.task).is_multi_label)
        return measures.agreement(ratings, resamples=resamples, seed=seed)
