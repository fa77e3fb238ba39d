"""What to label next: the labelling queue, a service that can see models.

The store only filters candidates (`repo.queue_candidates`: live, unlabelled, not skipped by this
annotator); an order decides which candidate comes first. Orders are rows of one table (`ORDERS`)
that the Label tab, the API and the CLI read. An order gets the candidates' query and the queue
service, so an order that ranks by a model (uncertain, diverse, default) can ask the assist service:
it keeps a ranked list of example ids per order (recomputed when the embeddings or the instant model
change, not per click), which the SQL candidates then filter. Before any embedding exists, or when
the ranked ones are used up, those orders hand out the rest shuffled.

Adding an order: a function `(QueueRequest) -> list[int]` and one row in ORDERS.

The audit sample (a per-dataset share of examples, Dataset.audit_share; derived.audit_key says which) is
never ranked by a model: an order that ranks by one gets candidates without it, and the queue hands out one
audit example, chosen at random, whenever the labelled audit examples fall below the share of all labelled
ones, so the audit set grows with the labels and its accuracy is not biased by what the model picked
(label-sleuth #588). Orders that rank by no model (in order, shuffled) are unbiased already: unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ftdemo.errors import InvalidInputError
from ftdemo.services.base import Actor, Service
from ftdemo.store import derived, repo
from ftdemo.store.schema import Dataset, DatasetStats, ExampleState

if TYPE_CHECKING:
    from ftdemo.services.assist import AssistService
    from ftdemo.services.predict import PredictService

RANK_CHECK = 100  # ranked ids checked against the candidates per query


@dataclass(frozen=True)
class QueueRequest:
    """One ask for the next examples: the candidates (a query of example ids) and who asks."""

    session: Session
    dataset: Dataset
    candidates: Select
    annotator: str
    seed: int
    limit: int
    queue: "QueueService"


def _in_order(req: QueueRequest) -> list[int]:
    return list(req.session.scalars(req.candidates.order_by(req.candidates.selected_columns[0]).limit(req.limit)))


def _shuffled(req: QueueRequest) -> list[int]:
    # Examples sit on a ring by a fixed hash of their id (example_states.shuffle_key, indexed); each
    # seed starts at its own point and walks round. One index range scan, however large the pool,
    # a stable order per seed (the queue does not jump around between calls), and annotators with
    # different seeds start in different places of the pool.
    start = derived.shuffle_key(req.seed)
    ranked = req.candidates.order_by(ExampleState.shuffle_key, ExampleState.example_id)
    ids = list(req.session.scalars(ranked.where(ExampleState.shuffle_key >= start).limit(req.limit)))
    if len(ids) < req.limit:  # wrap round
        ids += req.session.scalars(ranked.where(ExampleState.shuffle_key < start).limit(req.limit - len(ids)))
    return ids


def _ranked(strategy: str) -> Callable[[QueueRequest], list[int]]:
    """An order that follows the assist service's ranking for `strategy` (see assist.strategies)."""

    def pick(req: QueueRequest) -> list[int]:
        assist = req.queue.assist
        ranked = assist.ranked_ids(req.dataset.name, strategy, seed=req.seed) if assist is not None else None
        chosen: list[int] = []
        for start in range(0, len(ranked or ()), RANK_CHECK):
            part = ranked[start:start + RANK_CHECK]
            ok = set(req.session.scalars(req.candidates.where(ExampleState.example_id.in_(part))))
            chosen += [i for i in part if i in ok][: req.limit - len(chosen)]
            if len(chosen) >= req.limit:
                return chosen
        # nothing embedded yet, or every ranked example is taken: the others, shuffled
        rest = req.candidates.where(ExampleState.example_id.not_in(chosen)) if chosen else req.candidates
        return chosen + _shuffled(replace(req, candidates=rest, limit=req.limit - len(chosen)))

    return pick


@dataclass(frozen=True)
class Order:
    name: str  # the value the API and the UI send
    title: str  # what the Label tab shows
    pick: Callable[[QueueRequest], list[int]]
    ranks_by: str | None = None  # the assist strategy whose ranking `pick` follows (None: SQL order only)


ORDERS: tuple[Order, ...] = (
    Order("in_order", "Unlabelled first, in order", _in_order),
    Order("shuffled", "Unlabelled first, shuffled", _shuffled),
    Order("uncertain", "Where the model is least sure", _ranked("uncertain"), "uncertain"),
    Order("diverse", "Covering the data (one per cluster)", _ranked("diverse"), "diverse"),
    Order("default", "Covering first, then least sure (recommended)", _ranked("default"), "default"),
)
BY_NAME = {o.name: o for o in ORDERS}


def get_order(name: str) -> Order:
    try:
        return BY_NAME[name]
    except (KeyError, TypeError):
        raise InvalidInputError(f"unknown queue order {name!r}; choose one of: {', '.join(BY_NAME)}") from None


class QueueService(Service):
    """Hands out the next examples to label; `predict` and `assist` are there for orders that rank by a model."""

    def __init__(self, db: Any, settings: Any, predict: "PredictService | None" = None,
                 assist: "AssistService | None" = None) -> None:
        super().__init__(db, settings)
        self.predict = predict
        self.assist = assist
        if settings.queue_order not in BY_NAME:  # checked at start, not at the first click
            raise InvalidInputError(f"FTDEMO_QUEUE_ORDER: unknown queue order {settings.queue_order!r}; "
                                    f"choose one of: {', '.join(BY_NAME)}")

    def prepare(self, dataset: str, order: str, *, seed: int = 0) -> None:
        """Bring a model order's ranking up to date before the caller opens its write transaction, so a
        re-ranking (up to a second on a large pool) never holds the write lock that labellers wait for."""
        ranks_by = get_order(order).ranks_by
        if ranks_by is not None and self.assist is not None:
            self.assist.ranked_ids(dataset, ranks_by, seed=int(seed))

    def next_ids(self, session: Session, ds: Dataset, actor: Actor, *, order: str = "in_order", seed: int = 0,
                 limit: int = 1, exclude: list[int] | tuple[int, ...] = (), overlap: bool = False) -> list[int]:
        """Up to `limit` example ids for `actor`, best first, inside the caller's transaction (`overlap`: with
        those other annotators hold leases on)."""
        chosen = get_order(order)
        candidates = repo.queue_candidates(ds, actor.name, exclude=exclude, overlap=overlap)
        req = QueueRequest(session, ds, candidates, actor.name, int(seed), int(limit), self)
        cut = derived.audit_cut(ds.audit_share)
        if chosen.ranks_by is None or cut == 0:
            return chosen.pick(req)
        audit = candidates.where(ExampleState.audit_key < cut)
        ids = _shuffled(replace(req, candidates=audit, limit=1)) if audit_due(session, ds) else []
        rest = candidates.where(ExampleState.audit_key >= cut)
        ids += chosen.pick(replace(req, candidates=rest, limit=req.limit - len(ids)))
        if len(ids) < req.limit:  # only audit examples are left: they get labelled too, in random order
            others = audit.where(ExampleState.example_id.not_in(ids)) if ids else audit
            ids += _shuffled(replace(req, candidates=others, limit=req.limit - len(ids)))
        return ids


def audit_counts(session: Session, ds: Dataset) -> tuple[int, int, int]:
    """(examples in the audit sample, labelled ones, labelled examples in all) of a dataset (live ones)."""
    cut = derived.audit_cut(ds.audit_share)
    labelled = session.scalar(select(DatasetStats.labelled).where(DatasetStats.dataset_id == ds.id)) or 0
    if cut == 0:
        return 0, 0, int(labelled)
    rows = session.execute(select(ExampleState.labelled, func.count()).where(
        ExampleState.dataset_id == ds.id, ExampleState.live.is_(True), ExampleState.audit_key < cut)
        .group_by(ExampleState.labelled)).all()
    per = {bool(flag): int(n) for flag, n in rows}
    return per.get(True, 0) + per.get(False, 0), per.get(True, 0), int(labelled)


def audit_due(session: Session, ds: Dataset) -> bool:
    """Whether the next example should come from the audit sample: its labelled share is below the setting
    (the first labels come from the model's order; from then on the audit set keeps pace with them)."""
    _, audit_labelled, labelled = audit_counts(session, ds)
    return audit_labelled < float(ds.audit_share) * labelled
