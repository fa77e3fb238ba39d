"""The training loop end to end on the tiny random BERT and learnable toy tasks."""

from __future__ import annotations

import json

import pytest
import torch

from ftdemo.errors import InvalidInputError, TrainingCancelled
from ftdemo.tasks import LabelledText, TaskType
from ftdemo.training import loop
from ftdemo.training.loop import ProgressEvent, train

from .conftest import toy_multi, toy_pair, toy_single


def test_single_label_learns_and_reports_everything(fast_config):
    events: list[ProgressEvent] = []
    result = train(toy_single(), ["neg", "pos"], TaskType.SINGLE_LABEL, fast_config(), callbacks=[events.append])
    assert result.metrics["validation"]["accuracy"] >= 0.9
    assert result.metrics["test"]["accuracy"] >= 0.8
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    # label maps travel in the model config so a saved model describes itself
    cfg = result.model.config
    assert cfg.id2label == {0: "neg", 1: "pos"} and cfg.label2id == {"neg": 0, "pos": 1}
    assert cfg.problem_type == "single_label_classification"
    assert result.thresholds is None and result.device.startswith("cpu")
    assert result.counts["train"]["total"] + result.counts["validation"]["total"] + result.counts["test"]["total"] == 160
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == len(result.history)
    step = next(e for e in events if e.kind == "step")
    assert step.loss is not None and step.learning_rate > 0 and step.examples_per_s > 0 and step.eta_s >= 0
    assert next(e for e in events if e.kind == "epoch").metrics["macro_f1"] >= 0
    json.dumps(result.summary())
    json.dumps([e.to_dict() for e in events])


def test_multi_label_learns_and_tunes_thresholds(fast_config):
    labels = ["sport", "money", "food"]
    result = train(toy_multi(), labels, "multi_label", fast_config(epochs=10))
    val = result.metrics["validation"]
    assert val["micro_f1"] >= 0.85 and "subset_accuracy" in val
    assert set(result.thresholds) == set(labels) and all(0 < t < 1 for t in result.thresholds.values())
    assert result.model.config.problem_type == "multi_label_classification"
    assert result.model.config.num_labels == 3  # the 2-label tiny head was replaced


def test_pair_task_uses_segments_and_learns(fast_config):
    result = train(toy_pair(), ["first", "second"], TaskType.PAIR, fast_config())
    assert result.metrics["validation"]["accuracy"] >= 0.9


def test_class_weights_layer_decay_and_frozen_layers_run(fast_config):
    data = [ex for ex in toy_single(160) if ex.labels == ("neg",) or ex.id < 40]  # 80 neg, 20 pos
    result = train(data, ["neg", "pos"], "single_label",
                   fast_config(epochs=2, class_weights="balanced", layer_lr_decay=0.8, freeze_layers=1,
                               freeze_embeddings=True, label_smoothing=0.1))
    assert result.timings["trainable_params"] < sum(p.numel() for p in result.model.parameters())
    assert not any(p.requires_grad for p in result.model.bert.embeddings.parameters())
    assert not any(p.requires_grad for p in result.model.bert.encoder.layer[0].parameters())
    assert len(result.history) == 2


def test_same_seed_same_run(fast_config):
    data = toy_single(80)
    a = train(data, ["neg", "pos"], "single_label", fast_config(epochs=2))
    b = train(data, ["neg", "pos"], "single_label", fast_config(epochs=2))
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    assert torch.equal(a.model.classifier.weight, b.model.classifier.weight)


def _train_with_scripted_validation(fast_config, monkeypatch, scores, *, n=140, **config):
    """Train with validation macro-F1 replaced by `scores` (one per epoch); returns (result, weights per epoch).
    140 examples with 45% held out give 58 validation rows: enough to stop on (training/stopping.py)."""
    scripted = iter(scores)
    real_metrics = loop.split_metrics

    def fake_metrics(task, features, probs, labels, thresholds):
        out = real_metrics(task, features, probs, labels, thresholds)
        if features is captured["val_features"]:
            out["macro_f1"] = next(scripted)
        return out

    captured: dict = {"weights": []}
    real_tokenize = loop.tokenize

    def spy_tokenize(examples, *args, **kwargs):
        feats = real_tokenize(examples, *args, **kwargs)
        captured.setdefault("order", []).append(feats)
        if len(captured["order"]) == 2:  # train, validation, test: the second is validation
            captured["val_features"] = feats
        return feats

    real_load = loop.setup.load_classifier

    def spy_load(*args, **kwargs):
        captured["model"] = real_load(*args, **kwargs)
        return captured["model"]

    monkeypatch.setattr(loop, "split_metrics", fake_metrics)
    monkeypatch.setattr(loop, "tokenize", spy_tokenize)
    monkeypatch.setattr(loop.setup, "load_classifier", spy_load)

    def on_epoch(event: ProgressEvent) -> None:
        if event.kind == "epoch":
            captured["weights"].append(captured["model"].classifier.weight.detach().clone())

    options = {"val_fraction": 0.45, "test_fraction": 0.05, **config}
    result = train(toy_single(n), ["neg", "pos"], "single_label", fast_config(**options), callbacks=[on_epoch])
    return result, captured["weights"]


def test_early_stopping_restores_the_best_epoch(fast_config, monkeypatch):
    result, weights = _train_with_scripted_validation(fast_config, monkeypatch, [0.5, 0.9, 0.6, 0.4, 0.3, 0.2, 0.1],
                                                      epochs=7, early_stopping_patience=2)
    assert result.best_epoch == 2 and result.stopped_early and len(result.history) == 4
    assert result.metrics["validation"]["macro_f1"] == 0.9
    assert torch.equal(result.model.classifier.weight, weights[1])
    assert not torch.equal(result.model.classifier.weight, weights[-1])


def test_a_lead_within_validation_noise_keeps_the_last_epoch(fast_config, monkeypatch):
    result, weights = _train_with_scripted_validation(fast_config, monkeypatch, [0.80, 0.82, 0.81], epochs=3)
    assert result.best_epoch == 3 and result.metrics["validation"]["macro_f1"] == 0.81
    assert torch.equal(result.model.classifier.weight, weights[-1])


def test_dips_within_validation_noise_do_not_stop_early(fast_config, monkeypatch):
    # 58 validation rows: one standard error is ~0.05, so 0.80 -> 0.77 -> 0.78 is noise; 0.40 is a clear drop
    result, _ = _train_with_scripted_validation(fast_config, monkeypatch, [0.80, 0.77, 0.78, 0.76, 0.77],
                                                epochs=5, early_stopping_patience=2)
    assert not result.stopped_early and len(result.history) == 5
    result, _ = _train_with_scripted_validation(fast_config, monkeypatch, [0.80, 0.40, 0.75, 0.40, 0.77],
                                                epochs=5, early_stopping_patience=2)
    assert result.stopped_early and len(result.history) == 4


def test_a_small_validation_split_trains_the_whole_schedule_and_serves_its_end(fast_config, monkeypatch):
    # 36 validation rows (the 300-label datasets have ~30): a slide this clear would stop a larger run
    result, weights = _train_with_scripted_validation(fast_config, monkeypatch, [0.5, 0.9, 0.6, 0.4, 0.3],
                                                      n=80, epochs=5, early_stopping_patience=2)
    assert not result.stopped_early and len(result.history) == 5 and result.best_epoch == 5
    assert result.metrics["validation"]["macro_f1"] == 0.3
    assert torch.equal(result.model.classifier.weight, weights[-1])


def test_clearly_better_is_one_standard_error():
    assert loop.clearly_better(0.9, 0.4, 8) and not loop.clearly_better(0.82, 0.81, 8)
    assert not loop.clearly_better(0.85, 0.83, 97) and loop.clearly_better(0.85, 0.83, 10_000)


def test_cancel_stops_within_a_batch(fast_config):
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    steps: list[int] = []
    with pytest.raises(TrainingCancelled):
        train(toy_single(), ["neg", "pos"], "single_label", fast_config(log_every=1),
              callbacks=[lambda e: steps.append(e.step)], should_stop=should_stop)
    assert calls["n"] == 4 and max(steps) == 3


def test_refuses_tiny_data_naming_the_labels(fast_config):
    data = toy_single(10) + [LabelledText(100, "meh", None, ("neutral",))]
    with pytest.raises(InvalidInputError, match="neutral \\(1\\)"):
        train(data, ["neg", "pos", "neutral"], "single_label", fast_config())


def test_works_on_the_smallest_allowed_data(fast_config):
    data = [LabelledText(i, t, None, (lab,)) for i, (t, lab) in
            enumerate([("good", "pos"), ("great", "pos"), ("bad", "neg"), ("awful", "neg")])]
    result = train(data, ["neg", "pos"], "single_label", fast_config(epochs=1))
    assert result.metrics["validation"]["n"] >= 1
    assert result.counts["train"]["per_label"]["neg"] >= 1 and result.counts["train"]["per_label"]["pos"] >= 1


def test_loss_counts_every_example_the_same_whatever_its_batch():
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.data import Features

    empty = Features([], [], None, [])
    loss = loop._loss_fn(TaskType.SINGLE_LABEL, TrainConfig(), empty, 2, torch.device("cpu"), mean_batch=4.0)
    logits, y = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])
    per_example = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    # a 2-example batch contributes half of what a 4-example batch would: sum / average batch size
    assert torch.allclose(loss(logits, y), per_example.sum() / 4)
    bce = loop._loss_fn(TaskType.MULTI_LABEL, TrainConfig(), empty, 3, torch.device("cpu"), mean_batch=2.0)
    target = torch.tensor([[1.0, 0.0, 1.0]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(torch.zeros(1, 3), target, reduction="sum") / 6
    assert torch.allclose(bce(torch.zeros(1, 3), target), expected)


def test_automatic_epochs_follow_the_steps_one_pass_takes(fast_config):
    events = []
    result = train(toy_single(60), ["neg", "pos"], "single_label",
                   fast_config(epochs=0, early_stopping_patience=2), callbacks=[events.append])
    planned = result.timings["epochs_planned"]
    assert planned == 20  # ~48 training rows in batches of 16: 3-4 steps a pass, so the 20-epoch cap
    assert events[0].kind == "start" and events[0].epochs == planned
    assert 1 <= len(result.history) <= planned


def test_the_pooler_starts_fresh_only_for_plain_encoders(fast_config, tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer, BertConfig, BertModel

    encoder = tmp_path / "encoder"
    BertModel(BertConfig.from_pretrained(tiny_model_dir)).save_pretrained(encoder)  # like the bundled MiniLM
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(encoder)
    data = toy_single(40)
    fresh = train(data, ["neg", "pos"], "single_label", fast_config(base_model=str(encoder), epochs=1))
    kept = train(data, ["neg", "pos"], "single_label", fast_config(base_model=str(encoder), epochs=1, reinit_pooler=False))
    classifier = train(data, ["neg", "pos"], "single_label", fast_config(epochs=1))  # tiny_model_dir: a classifier
    assert (fresh.timings["pooler_reinitialised"], kept.timings["pooler_reinitialised"],
            classifier.timings["pooler_reinitialised"]) == (1.0, 0.0, 0.0)
    assert fresh.config.reinit_pooler and not kept.config.reinit_pooler


def test_batch_plans_are_made_one_epoch_at_a_time_and_cancel_works_while_counting(fast_config, monkeypatch):
    """The scheduler needs every epoch's step count; the plans are made to count them, one at a time, and
    a cancel is seen while counting (200 epochs of plans were made and kept before the first batch)."""
    from ftdemo.training import data

    made: list[int] = []

    def counted(*args, **kwargs):
        made.append(kwargs["seed"])
        return data.token_budget_batches(*args, **kwargs)

    monkeypatch.setattr(loop, "token_budget_batches", counted)
    events: list[str] = []
    with pytest.raises(TrainingCancelled):
        train(toy_single(40), ["neg", "pos"], "single_label", fast_config(epochs=200),
              callbacks=[lambda e: events.append(e.kind)], should_stop=lambda: True)
    assert events == [] and len(made) <= 11  # stopped while counting, long before 200 plans


def test_lazy_plans_give_the_same_batches_as_plans_made_up_front(fast_config, monkeypatch):
    """Each epoch's plan depends only on seed + epoch, so making it when the epoch starts changes nothing:
    the loop trains on exactly the batches of the plans made up front, in order."""
    from ftdemo.training import data

    config = fast_config(epochs=3)
    collated: list[tuple[object, list[int]]] = []
    real_collate = loop.collate

    def recording(features, batch, **kw):
        collated.append((features, list(batch)))
        return real_collate(features, batch, **kw)

    monkeypatch.setattr(loop, "collate", recording)
    result = train(toy_single(80), ["neg", "pos"], "single_label", config)
    train_features = collated[0][0]  # the first batch is a training batch; evaluation uses other features
    trained = [batch for features, batch in collated if features is train_features]
    budget = int(result.timings["batch_tokens"])
    expected = [batch for epoch in range(3)
                for batch in data.token_budget_batches(train_features.lengths, budget, seed=config.seed + epoch,
                                                       max_examples=config.resolved_max_batch_examples)]
    assert trained == expected and result.timings["steps"] == len(expected)


def test_bf16_autocast_trains_on_the_cpu(fast_config):
    """The GPU's precision path (bf16 autocast, fp32 weights and loss) runs here too: torch has bf16
    autocast on the CPU, so CI exercises the branch a CUDA run takes by default."""
    seen: set[torch.dtype] = set()

    def record(module, _inputs, output):
        if isinstance(module, torch.nn.Linear) and module.training:
            seen.add(output.dtype)

    hook = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        result = train(toy_single(), ["neg", "pos"], TaskType.SINGLE_LABEL, fast_config(device="cpu", precision="bf16"))
    finally:
        hook.remove()
    assert seen == {torch.bfloat16}  # the training forward ran under autocast
    assert {p.dtype for p in result.model.parameters()} == {torch.float32}  # master weights stay fp32
    assert result.config.precision == "bf16" and result.device.startswith("cpu")
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.metrics["validation"]["accuracy"] >= 0.8 and result.metrics["test"]["macro_f1"] > 0


def test_the_step_estimate_made_before_tokenizing_is_close_to_the_plan(fast_config):
    """ZeroGPU's duration is asked for from this estimate (ftdemo.jobs.zerogpu); its margin covers the rest."""
    for epochs in (2, 0):
        cfg = fast_config(epochs=epochs)
        result = train(toy_single(), ["neg", "pos"], TaskType.SINGLE_LABEL, cfg)
        estimate = cfg.estimated_steps(160)
        assert estimate / 1.5 <= result.timings["steps"] <= 1.5 * estimate, (estimate, result.timings["steps"])
