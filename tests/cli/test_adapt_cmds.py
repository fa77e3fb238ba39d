"""`adapt`, `adapted` and a `train` from the adapted checkpoint, as an operator runs them (in-process)."""

from __future__ import annotations

import json

from tiny import keyword_dataset


def test_adapt_then_list_then_fine_tune_from_the_adapted_checkpoint(cli, services, tiny_encoder_dir) -> None:
    keyword_dataset(services, "kw", n=40)
    code, out, err = cli("adapt", "kw", "--epochs", "2", "--base-model", str(tiny_encoder_dir), "--max-length", "32",
                         "--json", "--quiet")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["status"] == "succeeded" and payload["adapted"] == "a0001"
    assert payload["metrics"]["before"]["masked_tokens"] > 0 and payload["timings"]["train_texts_per_s"] > 0
    code, out, _ = cli("adapted", "kw")
    assert code == 0 and out.startswith("a0001") and "held-out masked-LM loss" in out
    code, out, err = cli("train", "kw", "--base-model", "a0001", "--epochs", "1", "--max-length", "32", "--quiet")
    assert code == 0 and "v0001" in out, err
    code, _, err = cli("adapt", "kw", "--epochs", "0")
    assert code == 2 and "epochs" in err
