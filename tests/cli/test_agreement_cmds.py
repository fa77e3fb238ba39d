"""`stats --agreement`, `overlap` and `prune` as scripts read them: the JSON keys, old ones kept."""

import json

from ftdemo.services import Actor

ADA, ANN, BOB = Actor("ada"), Actor("ann", "annotator"), Actor("bob", "annotator")


def _two_annotators(services):
    services.datasets.create("agr", "single_label", "pos,neg", actor=ADA)
    ids = [services.annotate.add("agr", f"text {i}", actor=ADA).id for i in range(6)]
    services.annotate.label_many("agr", ids, "pos", actor=ANN)
    services.annotate.label_many("agr", ids[:4], "pos", actor=BOB)
    services.annotate.label_many("agr", ids[4:], "neg", actor=BOB)


def test_stats_with_agreement_adds_keys_and_keeps_the_old_ones(cli, services):
    _two_annotators(services)
    code, plain, _ = cli("stats", "agr", "--json")
    assert code == 0
    code, out, _ = cli("stats", "agr", "--agreement", "--json")
    assert code == 0
    before, after = json.loads(plain), json.loads(out)
    assert {k: after[k] for k in before} == before  # extended, nothing renamed
    assert after["overlap_items"] == 6
    [pair] = after["cohen_kappa"]
    assert set(pair) == {"a", "b", "kappa", "items", "low", "high"} and (pair["a"], pair["b"], pair["items"]) == (
        "ann", "bob", 6)
    for key in ("fleiss_kappa", "krippendorff_alpha"):
        assert {"value", "items", "low", "high"} <= set(after[key])
    assert set(after["per_label"]) == {"pos", "neg"} and after["interval"]["level"] == 0.95
    code, text, _ = cli("stats", "agr", "--agreement")
    assert code == 0 and "Krippendorff's alpha" in text and "Cohen's kappa ann / bob" in text


def test_overlap_shows_and_sets_and_prune_reports(cli, services):
    services.datasets.create("o", "single_label", "pos,neg", actor=ADA)
    code, out, _ = cli("overlap", "o", "--json")
    assert code == 0 and json.loads(out)["share"] == 0.0
    code, out, _ = cli("overlap", "o", "--share", "0.25", "--k", "3", "--json")
    assert code == 0 and (json.loads(out)["share"], json.loads(out)["k"]) == (0.25, 3)
    assert services.agreement.overlap("o").k == 3
    code, _, err = cli("overlap", "o", "--share", "2")
    assert code == 2 and "from 0 to 1" in err
    code, out, _ = cli("prune", "o", "--keep", "2", "--json")
    assert code == 0 and json.loads(out) == {"dataset": "o", "kept": [], "deleted": [], "freed_mb": 0.0,
                                             "disk_mb": 0.0}
