"""Optimizer groups, freezing, layer-wise LR decay and the warmup schedule."""

from __future__ import annotations

import pytest
import torch
from tiny import build_tiny_model

from ftdemo.errors import InvalidInputError
from ftdemo.training import setup


@pytest.fixture
def tiny_model(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)


def test_no_weight_decay_for_biases_and_layernorm(tiny_model):
    groups = setup.param_groups(tiny_model, lr=1e-3, weight_decay=0.01, layer_decay=1.0)
    names = {id(p): n for n, p in tiny_model.named_parameters()}
    for group in groups:
        for p in group["params"]:
            name = names[id(p)]
            expect = 0.0 if (name.endswith("bias") or "LayerNorm" in name) else 0.01
            assert group["weight_decay"] == expect, name
    assert sum(len(g["params"]) for g in groups) == len(list(tiny_model.parameters()))


def test_layer_lr_decay_gives_lower_layers_smaller_rates(tiny_model):
    groups = setup.param_groups(tiny_model, lr=1.0, weight_decay=0.0, layer_decay=0.5)
    lr_of = {}
    names = {id(p): n for n, p in tiny_model.named_parameters()}
    for g in groups:
        for p in g["params"]:
            lr_of[names[id(p)]] = g["lr"]
    assert lr_of["classifier.weight"] == 1.0
    assert lr_of["bert.encoder.layer.1.output.dense.weight"] == 0.5
    assert lr_of["bert.encoder.layer.0.output.dense.weight"] == 0.25
    assert lr_of["bert.embeddings.word_embeddings.weight"] == 0.125


def test_freeze_embeddings_and_lower_layers(tiny_model):
    total = sum(p.numel() for p in tiny_model.parameters())
    trainable = setup.freeze(tiny_model, embeddings=True, layers=1)
    frozen = {n for n, p in tiny_model.named_parameters() if not p.requires_grad}
    assert all(n.startswith(("bert.embeddings", "bert.encoder.layer.0.")) for n in frozen)
    assert "bert.embeddings.word_embeddings.weight" in frozen
    assert 0 < trainable < total
    with pytest.raises(InvalidInputError, match="only 2 layers"):
        setup.freeze(tiny_model, embeddings=False, layers=3)


def test_warmup_then_linear_decay_to_zero():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([param], lr=1.0)
    sched = setup.warmup_linear(opt, warmup_steps=4, total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs[0] > 0 and lrs[:5] == sorted(lrs[:5]) and max(lrs) == 1.0
    assert lrs[4:] == sorted(lrs[4:], reverse=True)
    assert sched.get_last_lr()[0] == 0.0


def test_cpu_uses_fused_adamw_and_precision_is_fp32():
    opt = setup.make_optimizer([{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 1e-3}], torch.device("cpu"))
    assert opt.defaults.get("fused") is True
    assert setup.resolve_precision("auto", torch.device("cpu")) == "fp32"
    with pytest.raises(InvalidInputError, match="fp16"):
        setup.resolve_precision("fp16", torch.device("cpu"))


def _tiny_checkpoint(tmp_path, model_cls):
    return str(build_tiny_model(tmp_path, model_class=model_cls.__name__, hidden=16, layers=1, vocab_size=100,
                                max_positions=32, initializer_range=0.5))


def test_the_pooler_of_a_plain_encoder_starts_fresh(tmp_path):
    from transformers import BertModel

    from ftdemo.tasks import TaskType

    model = setup.load_classifier(_tiny_checkpoint(tmp_path, BertModel), ["a", "b"], TaskType.SINGLE_LABEL)
    dense = model.bert.pooler.dense
    pretrained = dense.weight.detach().clone()
    torch.nn.init.constant_(dense.bias, 0.3)
    assert setup.reinit_pooler(model)
    assert not torch.equal(dense.weight, pretrained) and torch.count_nonzero(dense.bias) == 0
    assert dense.weight.std().item() == pytest.approx(0.5, rel=0.2)  # the config's initializer_range


def test_a_classifier_checkpoint_keeps_its_trained_pooler(tmp_path):
    from transformers import BertForSequenceClassification

    from ftdemo.tasks import TaskType

    model = setup.load_classifier(_tiny_checkpoint(tmp_path, BertForSequenceClassification), ["a", "b"],
                                  TaskType.SINGLE_LABEL)
    before = model.bert.pooler.dense.weight.detach().clone()
    assert not setup.reinit_pooler(model)
    assert torch.equal(model.bert.pooler.dense.weight, before)


def test_a_half_precision_checkpoint_trains_with_fp32_weights(tmp_path):
    """Many checkpoints are saved in bf16 or fp16; AdamW must still update an fp32 master copy."""
    from transformers import BertForSequenceClassification

    from ftdemo.tasks import TaskType

    path = _tiny_checkpoint(tmp_path, BertForSequenceClassification)
    BertForSequenceClassification.from_pretrained(path, dtype=torch.float32).to(torch.bfloat16).save_pretrained(path)
    model = setup.load_classifier(path, ["a", "b"], TaskType.SINGLE_LABEL)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
