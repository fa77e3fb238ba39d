"""Agreement through the store: the overlap setting hands each overlap example to exactly k annotators in
every queue order, and the measures read from the database equal the libraries called on the same ratings."""

import itertools
from collections import Counter, defaultdict

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import select
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from ftdemo.errors import InvalidInputError, PermissionDeniedError
from ftdemo.services import Actor, Services
from ftdemo.store import derived, repo
from ftdemo.store.schema import AnnotatorState

ADA = Actor("ada")
PEOPLE = [Actor(name, "annotator") for name in ("ann", "bob", "cat", "dan")]


def _dataset(services, name="agr", n=30, task="single_label", labels="pos,neg,neu"):
    services.datasets.create(name, task, labels, actor=ADA)
    with services.db.write() as s:
        return repo.add_examples(s, repo.get_dataset(s, name), [repo.NewExample(f"text {i}") for i in range(n)],
                                 created_by="t")


def _labellers(services, name) -> dict[int, set[str]]:
    """Who currently labels each example."""
    out = defaultdict(set)
    with services.db.read() as s:
        ds = repo.get_dataset(s, name)
        for ex, who in s.execute(select(AnnotatorState.example_id, AnnotatorState.annotator)
                                 .where(AnnotatorState.dataset_id == ds.id, AnnotatorState.kind == "label")):
            out[ex].add(who)
    return out


@pytest.mark.parametrize("order", ["in_order", "shuffled", "default"])
def test_overlap_examples_go_to_exactly_k_annotators(assist_settings, order):
    """Four annotators ask at once (each holds a lease while the others ask), then label; until every
    queue is empty. Overlap examples end with exactly k labellers, the others with one."""
    services = Services(assist_settings.replace(queue_order=order))
    try:
        ids = _dataset(services, n=20)
        setting = services.agreement.set_overlap("agr", 0.4, 3, actor=ADA)
        with services.db.read() as s:
            chosen = {i for i in ids if s.get(derived.ExampleState, i).overlap_key < derived.overlap_threshold(0.4)}
        assert setting.examples == len(chosen) and 0 < len(chosen) < len(ids)
        for _ in range(200):
            handed = [(who, services.annotate.next("agr", who, order=order, seed=k, suggest=False))
                      for k, who in enumerate(PEOPLE)]
            if all(view is None for _, view in handed):
                break
            for who, view in handed:
                if view is not None:
                    services.annotate.label("agr", view.id, "pos", actor=who)
        who = _labellers(services, "agr")
        assert {i: len(who[i]) for i in ids} == {i: 3 if i in chosen else 1 for i in ids}
        assert services.agreement.overlap("agr").complete == len(chosen)
    finally:
        services.close()


def test_overlap_setting_is_checked_and_for_admins(services):
    _dataset(services)
    assert services.agreement.overlap("agr").to_dict() == {"dataset": "agr", "share": 0.0, "k": 2, "examples": 0,
                                                           "complete": 0}
    with pytest.raises(PermissionDeniedError):
        services.agreement.set_overlap("agr", 0.5, 2, actor=PEOPLE[0])
    for share, k in ((1.5, 2), (0.5, 1), (0.5, 2.5), ("half", 2)):
        with pytest.raises(InvalidInputError):
            services.agreement.set_overlap("agr", share, k, actor=ADA)
    small = services.agreement.set_overlap("agr", 0.2, 2, actor=ADA).examples
    assert small <= services.agreement.set_overlap("agr", 0.6, 2, actor=ADA).examples <= 30


def test_without_overlap_a_labelled_example_leaves_every_queue(services):
    ids = _dataset(services, n=3)
    services.annotate.label("agr", ids[0], "pos", actor=PEOPLE[0])
    assert services.annotate.next("agr", PEOPLE[1]).id == ids[1]


def _random_ratings(services, name, labels, *, multi=False, seed=0):
    """Label the dataset's examples at random: each by 2 to 4 of the annotators. Returns {example: {who: set}}."""
    rng = np.random.default_rng(seed)
    ids = _dataset(services, name, n=24, task="multi_label" if multi else "single_label", labels=",".join(labels))
    truth = {}
    by_choice = defaultdict(list)
    for ex in ids:
        people = rng.choice(len(PEOPLE), size=int(rng.integers(2, 5)), replace=False)
        truth[ex] = {}
        base = rng.integers(0, len(labels))
        for p in people:
            if multi:
                chosen = tuple(sorted({lab for lab in labels if rng.random() < 0.4} or {labels[base]}))
            else:
                chosen = (labels[base] if rng.random() < 0.6 else labels[rng.integers(0, len(labels))],)
            truth[ex][PEOPLE[p].name] = set(chosen)
            by_choice[(p, chosen)].append(ex)
    for (p, chosen), examples in by_choice.items():  # one bulk action per annotator and label set
        services.annotate.label_many(name, examples, list(chosen), actor=PEOPLE[p])
    return ids, truth


def test_single_label_values_equal_the_libraries_on_the_same_ratings(services):
    labels = ["pos", "neg", "neu"]
    ids, truth = _random_ratings(services, "rand", labels)
    result = services.agreement.agreement("rand", resamples=0).to_dict()
    names = sorted(p.name for p in PEOPLE)
    code = {lab: i for i, lab in enumerate(labels)}
    matrix = np.array([[code[next(iter(truth[ex][w]))] if w in truth[ex] else np.nan for ex in ids] for w in names])
    assert result["overlap_items"] == len(ids)
    assert result["krippendorff_alpha"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal", value_domain=[0, 1, 2]))
    for a, b in itertools.combinations(range(len(names)), 2):
        both = ~np.isnan(matrix[a]) & ~np.isnan(matrix[b])
        [pair] = [p for p in result["cohen_kappa"] if (p["a"], p["b"]) == (names[a], names[b])]
        assert pair["items"] == both.sum()
        assert pair["kappa"] == pytest.approx(cohen_kappa_score(matrix[a, both], matrix[b, both], labels=[0, 1, 2]))
    raters = Counter(len(truth[ex]) for ex in ids).most_common(1)[0][0]
    rows = [sorted(code[next(iter(v))] for v in truth[ex].values()) for ex in ids if len(truth[ex]) == raters]
    assert result["fleiss_kappa"]["items"] == len(rows) and result["fleiss_kappa"]["raters"] == raters
    assert result["fleiss_kappa"]["value"] == pytest.approx(fleiss_kappa(aggregate_raters(np.array(rows), n_cat=3)[0]))
    for lab in labels:  # per label: chosen or not
        binary = np.where(np.isnan(matrix), np.nan, (matrix == code[lab]).astype(float))
        assert result["per_label"][lab]["krippendorff_alpha"]["value"] == pytest.approx(
            krippendorff.alpha(reliability_data=binary, level_of_measurement="nominal", value_domain=[0, 1]))


def test_multi_label_values_equal_the_libraries_per_label(services):
    labels = ["a", "b", "c"]
    ids, truth = _random_ratings(services, "multi", labels, multi=True, seed=1)
    result = services.agreement.agreement("multi", resamples=0).to_dict()
    names = sorted(p.name for p in PEOPLE)
    for lab in labels:
        data = [[float(lab in truth[ex][w]) if w in truth[ex] else np.nan for ex in ids] for w in names]
        assert result["per_label"][lab]["krippendorff_alpha"]["value"] == pytest.approx(
            krippendorff.alpha(reliability_data=data, level_of_measurement="nominal", value_domain=[0, 1]))
    units = [[float(lab in truth[ex][w]) if w in truth[ex] else np.nan for ex in ids for lab in labels] for w in names]
    assert result["krippendorff_alpha"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=units, level_of_measurement="nominal", value_domain=[0, 1]))


def test_textbook_cohen_table_through_the_database(services):
    """Wikipedia's Cohen's kappa example (20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: kappa 0.4), labelled."""
    ids = _dataset(services, "cohen", n=50, labels="yes,no")
    cells = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    for who, side in ((PEOPLE[0], 0), (PEOPLE[1], 1)):
        for lab in ("yes", "no"):
            services.annotate.label_many("cohen", [i for i, c in zip(ids, cells) if c[side] == lab], lab, actor=who)
    result = services.agreement.agreement("cohen", resamples=100)
    [pair] = result.cohen_kappa
    assert pair.kappa.value == pytest.approx(0.4) and pair.kappa.items == 50
    assert pair.kappa.low < 0.4 < pair.kappa.high


def test_overlap_keys_are_fixed_nested_and_independent_of_the_shuffled_order():
    ids = range(1, 20001)
    keys = np.array([derived.overlap_key(i) for i in ids])
    shuffle = np.array([derived.shuffle_key(i) for i in ids])
    assert abs(np.corrcoef(np.argsort(np.argsort(keys)), np.argsort(np.argsort(shuffle)))[0, 1]) < 0.03
    assert abs((keys < derived.overlap_threshold(0.3)).mean() - 0.3) < 0.02
    assert derived.overlap_threshold(1.0) > keys.max() and derived.overlap_threshold(0) == 0
