"""The audit sample from the command line (`datasets audit`), and the selection benchmark's counts."""

from __future__ import annotations

import json

from ftdemo.benchmarks.selection import summarise
from ftdemo.models.selection import DEFAULT_SCORE, SCORES


def test_datasets_audit_shows_and_sets_the_share(cli):
    assert cli("datasets", "create", "rev", "--task", "single_label", "--labels", "pos,neg")[0] == 0
    code, out, _ = cli("datasets", "audit", "rev", "--json")
    assert code == 0 and json.loads(out) == {"dataset": "rev", "share": 0.0, "examples": 0, "labelled": 0,
                                             "labelled_total": 0}
    code, out, _ = cli("datasets", "audit", "rev", "--share", "0.1")
    assert code == 0 and "audit sample: 10% of the examples" in out
    code, _, err = cli("datasets", "audit", "rev", "--share", "0.7")
    assert code == 2 and "must be a number from 0 to 0.5" in err
    assert json.loads(cli("datasets", "audit", "rev", "--json")[1])["share"] == 0.1


def _decision(better, old, new, bad=False):  # type: ignore[no-untyped-def]
    """One candidate decision as the benchmark records it: which version is better held out (None: a tie) and
    whether each rule activated the candidate (version 1; the active one is 0)."""
    def rule(activated):  # type: ignore[no-untyped-def]
        picked = 1 if activated else 0
        return {"activated": activated, "better": better, "picks_better": None if better is None else picked == better}

    other = next(f"new_{s}" for s in SCORES if s != DEFAULT_SCORE)
    return {"candidate": 1, "old": rule(old), f"new_{DEFAULT_SCORE}": {**rule(new), "bad_activation": bad},
            other: {**rule(False), "bad_activation": False}}


def test_selection_bench_counts_picks_ties_and_bad_activations():
    draws = [{"heldout_accuracy": acc, "decisions": [d]} for acc, d in [
        ([0.80, 0.82], _decision(1, old=True, new=False)),  # the candidate is better: only the old rule took it
        ([0.82, 0.80], _decision(0, old=True, new=False)),  # the active one is better: the new rule kept it
        ([0.80, 0.80], _decision(None, old=True, new=False)),  # a tie
        ([0.85, 0.80], _decision(0, old=False, new=True, bad=True)),  # the new rule activated a worse one
    ]]
    out = summarise(draws)
    assert (out["draws"], out["decisions"], out["ties"]) == (4, 4, 1)
    assert (out["old_rule_picks_better"], out["new_rule_picks_better"]) == (2, 1)
    assert (out["old_rule_activations"], out["new_rule_activations"], out["new_rule_bad_activations"]) == (3, 1, 1)
    assert out["per_rule"][next(f"new_{s}" for s in SCORES if s != DEFAULT_SCORE)] == {"picks_better": 2, "picks_worse": 1, "activations": 0,
                                             "bad_activations": 0}
