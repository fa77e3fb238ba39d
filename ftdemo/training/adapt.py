"""Adapting a base model to a dataset's own texts: masked-language-model training, labels not needed.

Task-adaptive pre-training (Gururangan et al. 2020, "Don't Stop Pretraining"): continue BERT's masked-LM
objective on the texts a classifier will see, then fine-tune from the result. No database and no UI here,
like loop.py: progress leaves through callbacks, cancellation comes in through `should_stop`.

The pieces are transformers' own: `AutoModelForMaskedLM`, and `DataCollatorForLanguageModeling` for the
masking (15% of the tokens chosen; of those 80% become [MASK], 10% a random token, 10% stay; with
`whole_word_mask`, every piece of a chosen word, all [MASK], which is that collator's rule). Special tokens
and padding are never chosen: every feature carries the tokenizer's special_tokens_mask, and padding is
marked special too. Batching is the engine's: length-sorted, token-budget batches (training/data.py).

A base model without a masked-LM head (the bundled MiniLM is a sentence encoder: `BertModel`, no `cls.*`
weights) gets transformers' initialisation: the decoder shares the word-embedding matrix (tied, so the
output vocabulary starts as the input one), the bias starts at 0, the transform (dense + LayerNorm) starts
fresh. For the first `head_warmup_ratio` of the steps only the head trains, the encoder frozen, so the
random transform's gradients never reach the pre-trained encoder; then everything trains.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ftdemo.devices import describe_device, resolve_device
from ftdemo.errors import InvalidInputError, TrainingCancelled
from ftdemo.tasks import LabelledText
from ftdemo.training import setup
from ftdemo.training.adapt_config import AdaptConfig
from ftdemo.training.data import token_budget_batches, token_counts
from ftdemo.training.loop import Callback, ProgressEvent, _bundled, _emitter

MAX_HELDOUT = 2000  # texts measured before and after: enough for a tight estimate, a few seconds on a CPU
MIN_TEXTS = 2


@dataclass
class MlmFeatures:
    """Tokenized texts for masked-LM training, unpadded; offsets only for whole-word masking."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None  # pairs only
    special_tokens_mask: list[list[int]]
    offsets: list[list[tuple[int, int]]] | None

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> list[int]:
        return [len(row) for row in self.input_ids]


@dataclass
class AdaptResult:
    """What an adaptation run produced: the masked-LM model (head included) and its measurements."""

    model: Any
    tokenizer: Any
    config: AdaptConfig
    base_model: str
    metrics: dict[str, Any]  # {"before": {"loss", "accuracy", "masked_tokens"}, "after": {...}, "heldout_texts"}
    history: list[dict[str, Any]]
    timings: dict[str, float]
    device: str
    counts: dict[str, int] = field(default_factory=dict)
    head_initialised: bool = False  # the base model had no masked-LM head (transformers made a fresh one)

    def summary(self) -> dict[str, Any]:
        return {"base_model": self.base_model, "config": self.config.to_dict(), "metrics": self.metrics,
                "history": self.history, "timings": self.timings, "device": self.device, "counts": self.counts,
                "head_initialised": self.head_initialised}


def tokenize_texts(texts: Sequence[LabelledText], tokenizer: Any, max_length: int, *,
                   offsets: bool = False) -> MlmFeatures:
    """Tokenize once, no padding; pairs as sentence pairs (longest-first truncation) with their segment
    ids, like fine-tuning's tokenize; the special-tokens mask keeps [CLS]/[SEP] out of the masking."""
    if not texts:
        return MlmFeatures([], None, [], [] if offsets else None)
    pairs = [ex.text_pair or "" for ex in texts] if any(ex.text_pair for ex in texts) else None
    enc = tokenizer([ex.text for ex in texts], pairs, truncation=True if pairs is None else "longest_first",
                    max_length=max_length, padding=False, return_attention_mask=False,
                    return_special_tokens_mask=True, return_offsets_mapping=offsets,
                    return_token_type_ids=pairs is not None and "token_type_ids" in tokenizer.model_input_names)
    return MlmFeatures(
        input_ids=[list(r) for r in enc["input_ids"]],
        token_type_ids=[list(r) for r in enc["token_type_ids"]] if "token_type_ids" in enc else None,
        special_tokens_mask=[list(r) for r in enc["special_tokens_mask"]],
        offsets=[[tuple(o) for o in r] for r in enc["offset_mapping"]] if offsets else None)


def make_collator(tokenizer: Any, config: AdaptConfig, seed: int) -> Any:
    """transformers' masked-LM collator with the config's rule and its own seeded generator.

    The generator is set here, not through the collator's `seed`: that one refuses to seed itself in any
    process not named "MainProcess" outside a DataLoader worker, and training runs in a child process."""
    from transformers import DataCollatorForLanguageModeling

    rule = {"mask_replace_prob": 1.0, "random_replace_prob": 0.0} if config.whole_word_mask else {}  # its WWM rule
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=config.mlm_probability,
                                               whole_word_mask=config.whole_word_mask, return_tensors="pt", **rule)
    collator.generator = torch.Generator().manual_seed(seed)
    return collator


def mask_batch(features: MlmFeatures, batch: Sequence[int], collator: Any, pad_id: int) -> dict[str, torch.Tensor]:
    """One masked batch: rows padded to the longest here (padding marked special, so never masked), then
    the collator picks and replaces tokens; labels are -100 everywhere but the chosen tokens."""
    width = max(len(features.input_ids[i]) for i in batch)
    rows = []
    for i in batch:
        n = len(features.input_ids[i])
        fill = width - n
        row = {"input_ids": features.input_ids[i] + [pad_id] * fill,
               "special_tokens_mask": features.special_tokens_mask[i] + [1] * fill,
               "attention_mask": [1] * n + [0] * fill}
        if features.token_type_ids is not None:
            row["token_type_ids"] = features.token_type_ids[i] + [0] * fill
        if features.offsets is not None:
            row["offset_mapping"] = features.offsets[i] + [(0, 0)] * fill
        rows.append(row)
    out = dict(collator(rows))
    if all(len(features.input_ids[i]) == width for i in batch):
        out.pop("attention_mask")  # no padding: SDPA takes its mask-free kernel (as in fine-tuning)
    return out


def load_masked_lm(base_model: str) -> tuple[Any, bool]:
    """The base model with a masked-LM head, fp32, SDPA; whether the head was missing (made fresh)."""
    from transformers import AutoModelForMaskedLM

    from ftdemo.models.loading import FROM_PRETRAINED

    try:
        with FROM_PRETRAINED:  # see models/loading.py: concurrent loads corrupt transformers' global state
            model, info = AutoModelForMaskedLM.from_pretrained(
                base_model, attn_implementation="sdpa", use_safetensors=True, trust_remote_code=False,
                dtype=torch.float32, output_loading_info=True)
    except (OSError, ValueError) as err:
        raise InvalidInputError(
            f"cannot load base model {base_model!r} as a masked language model (needs a local folder or, online, "
            f"a Hub id with safetensors weights): {str(err).splitlines()[0] if str(err) else type(err).__name__}") from err
    prefix = getattr(model, "base_model_prefix", "")
    missing = [k for k in info.get("missing_keys", ()) if not k.startswith(prefix + ".")]
    return model, bool(missing)


def masked_logits(model: Any, inputs: dict[str, torch.Tensor], chosen: torch.Tensor) -> torch.Tensor:
    """Vocabulary logits at the chosen positions only, (n_chosen, vocab).

    The head runs on the ~15% of positions that are predicted, not on all of them as the model's own
    forward does: its decoder (hidden x 30,522 for BERT's vocabulary) is a large part of a small model's cost;
    on MiniLM forward + backward take 2.3x less CPU time this way, for the same loss (docs/benchmarks.md). Models whose head is not `cls` (BERT) or `lm_head`
    (RoBERTa family) take the full forward."""
    head = getattr(model, "cls", None) or getattr(model, "lm_head", None)
    if head is None:
        return model(**inputs).logits[chosen]
    hidden = getattr(model, model.base_model_prefix)(**inputs).last_hidden_state
    return head(hidden[chosen])


def masked_lm_loss(model: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy over the chosen tokens (labels != -100), what the model's own loss computes."""
    labels = inputs.pop("labels")
    chosen = labels != -100
    return torch.nn.functional.cross_entropy(masked_logits(model, inputs, chosen).float(), labels[chosen])


@torch.inference_mode()
def mlm_scores(model: Any, features: MlmFeatures, tokenizer: Any, config: AdaptConfig, budget: int,
               device: torch.device, precision: str) -> dict[str, float]:
    """Masked-LM loss (mean over chosen tokens) and accuracy of the top prediction at the chosen tokens.

    The masks come from a generator seeded the same way each call, so a before/after pair is measured on
    exactly the same chosen tokens."""
    if not len(features):
        return {"loss": float("nan"), "accuracy": float("nan"), "masked_tokens": 0}
    model.eval()
    collator = make_collator(tokenizer, config, config.seed + 1_000_003)
    pad_id = tokenizer.pad_token_id or 0
    loss_sum, right, total = 0.0, 0, 0
    for batch in token_budget_batches(features.lengths, 4 * budget):
        inputs = {k: v.to(device) for k, v in mask_batch(features, batch, collator, pad_id).items()}
        labels = inputs.pop("labels")
        chosen = labels != -100
        if not chosen.any():
            continue
        with setup.autocast(device, precision):
            picked = masked_logits(model, inputs, chosen).float()
        loss_sum += float(torch.nn.functional.cross_entropy(picked, labels[chosen], reduction="sum"))
        right += int((picked.argmax(-1) == labels[chosen]).sum())
        total += int(chosen.sum())
    return {"loss": loss_sum / total if total else float("nan"), "accuracy": right / total if total else float("nan"),
            "masked_tokens": total}


def split_heldout(texts: Sequence[LabelledText], fraction: float) -> tuple[list[LabelledText], list[LabelledText]]:
    """(training texts, held-out texts): a deterministic share by a hash of the id, at most MAX_HELDOUT."""
    if fraction <= 0 or len(texts) < 20:
        return list(texts), []
    ranked = sorted(texts, key=lambda ex: hashlib.sha256(f"adapt-{ex.id}".encode()).hexdigest())
    n = min(MAX_HELDOUT, max(1, round(fraction * len(texts))))
    held = {ex.id for ex in ranked[:n]}
    return [ex for ex in texts if ex.id not in held], [ex for ex in texts if ex.id in held]


def adapt(texts: Sequence[LabelledText], config: AdaptConfig | None = None, *, callbacks: Sequence[Callback] = (),
          should_stop: Callable[[], bool] | None = None) -> AdaptResult:
    """Continue masked-LM training of `config.base_model` on `texts` (their labels are ignored).

    Raises InvalidInputError for too few texts or an unusable base model, TrainingCancelled when
    should_stop() turns true (checked before every batch)."""
    cfg = config or AdaptConfig()
    base_model = cfg.base_model or _bundled()
    stop = should_stop or (lambda: False)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    texts = [ex for ex in texts if ex.text.strip()]
    if len(texts) < MIN_TEXTS:
        raise InvalidInputError(f"adaptation needs at least {MIN_TEXTS} non-empty texts, the dataset has {len(texts)}")
    train_texts, held_texts = split_heldout(texts, cfg.heldout_fraction)
    if cfg.max_texts and len(train_texts) > cfg.max_texts:
        train_texts = random.Random(cfg.seed).sample(train_texts, cfg.max_texts)

    # runtime: device, precision, threads, seeds (the same rules as fine-tuning)
    device = resolve_device(cfg.device)
    precision = setup.resolve_precision(cfg.precision, device)
    torch.manual_seed(cfg.seed)
    with setup.torch_threads(device, cfg.num_threads):
        # model: the base with a masked-LM head (made fresh when missing; see the module docstring)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(base_model, use_fast=True, trust_remote_code=False)
        if tokenizer.mask_token is None:
            raise InvalidInputError(f"base model {base_model!r} has no [MASK] token: it cannot be adapted by masked-LM training")
        model, head_initialised = load_masked_lm(base_model)
        model = model.to(device)
        timings["load_s"] = time.perf_counter() - t0

        # preprocess: tokenize once; length-bucketed batches within a token budget
        t = time.perf_counter()
        feats = tokenize_texts(train_texts, tokenizer, cfg.max_length, offsets=cfg.whole_word_mask)
        held = tokenize_texts(held_texts, tokenizer, cfg.max_length, offsets=cfg.whole_word_mask)
        timings["tokenize_s"] = time.perf_counter() - t
        lengths = feats.lengths
        budget = max(max(lengths), round(cfg.batch_size * sum(lengths) / len(lengths)))
        plan_of = lambda epoch: token_budget_batches(lengths, budget, seed=cfg.seed + epoch,  # noqa: E731
                                                     max_examples=cfg.batch_size)
        total_steps = sum(len(plan_of(e)) for e in range(cfg.epochs))
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        collator = make_collator(tokenizer, cfg, cfg.seed)

        # before: the base model on the held-out texts
        t = time.perf_counter()
        before = mlm_scores(model, held, tokenizer, cfg, budget, device, precision)
        eval_s = time.perf_counter() - t

        # optimizer: one AdamW over everything; while only the head warms up, the encoder has no gradients
        # (requires_grad off), and AdamW leaves parameters without a gradient untouched
        groups = setup.param_groups(model, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, layer_decay=1.0)
        optimizer = setup.make_optimizer(groups, device)
        scheduler = setup.warmup_linear(optimizer, round(cfg.warmup_ratio * total_steps), total_steps)
        head_steps = round(cfg.head_warmup_ratio * total_steps) if head_initialised else 0
        encoder = [p for n, p in model.named_parameters() if n.startswith(model.base_model_prefix + ".")]
        params = [p for p in model.parameters() if p.requires_grad]
        _set_trainable(encoder, head_steps == 0)

        # train
        emit = _emitter(callbacks)
        emit(ProgressEvent("start", 0, cfg.epochs, 0, total_steps, time.perf_counter() - t0))
        history: list[dict[str, Any]] = []
        step, seen, train_s, train_cpu_s = 0, 0, 0.0, 0.0
        real_tokens = padded_tokens = 0
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            t_epoch, cpu_epoch = time.perf_counter(), time.process_time()
            running, since_log, epoch_loss = torch.zeros((), device=device), 0, torch.zeros((), device=device)
            plan = plan_of(epoch - 1)
            real, padded = token_counts(lengths, plan)
            real_tokens, padded_tokens = real_tokens + real, padded_tokens + padded
            for i, batch in enumerate(plan):
                if stop():
                    raise TrainingCancelled("adaptation was cancelled; no adapted model was saved")
                if step == head_steps and head_steps:
                    _set_trainable(encoder, True)  # the head has warmed up: the whole model learns from here
                masked = mask_batch(feats, batch, collator, pad_id)
                if bool((masked["labels"] == -100).all()):  # no token chosen (a few very short texts): skip
                    scheduler.step()
                    step, seen = step + 1, seen + len(batch)
                    continue
                inputs = {k: v.to(device, non_blocking=True) for k, v in masked.items()}
                with setup.autocast(device, precision):
                    loss = masked_lm_loss(model, inputs)
                loss.backward()
                if cfg.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step, seen, since_log = step + 1, seen + len(batch), since_log + 1
                running += loss.detach().float()
                epoch_loss += loss.detach().float()
                if step % cfg.log_every == 0 or i == len(plan) - 1:
                    elapsed = train_s + time.perf_counter() - t_epoch
                    emit(ProgressEvent("step", epoch, cfg.epochs, step, total_steps, time.perf_counter() - t0,
                                       loss=float(running.item()) / since_log, learning_rate=max(scheduler.get_last_lr()),
                                       examples_per_s=seen / elapsed, eta_s=elapsed / step * (total_steps - step)))
                    running.zero_()
                    since_log = 0
            train_s += time.perf_counter() - t_epoch
            train_cpu_s += time.process_time() - cpu_epoch
            row = {"epoch": epoch, "step": step, "train_loss": float(epoch_loss.item()) / max(1, len(plan)),
                   "learning_rate": max(scheduler.get_last_lr()), "seconds": time.perf_counter() - t_epoch}
            history.append(row)
            emit(ProgressEvent("epoch", epoch, cfg.epochs, step, total_steps, time.perf_counter() - t0,
                               loss=row["train_loss"], learning_rate=row["learning_rate"],
                               examples_per_s=seen / train_s if train_s else None,
                               eta_s=train_s / epoch * (cfg.epochs - epoch)))

        # after: the same held-out texts, the same masks
        t = time.perf_counter()
        after = mlm_scores(model, held, tokenizer, cfg, budget, device, precision)
        eval_s += time.perf_counter() - t
        model.eval()

    metrics = {"before": before, "after": after, "heldout_texts": len(held)}
    timings.update(train_s=train_s, train_cpu_s=train_cpu_s, eval_s=eval_s, total_s=time.perf_counter() - t0,
                   train_texts_per_s=seen / train_s if train_s else 0.0,
                   train_tokens_per_s=real_tokens / train_s if train_s else 0.0,
                   real_token_share=real_tokens / padded_tokens if padded_tokens else 1.0, steps=float(step),
                   head_warmup_steps=float(head_steps))
    emit(ProgressEvent("end", cfg.epochs, cfg.epochs, step, total_steps, timings["total_s"], metrics=metrics))
    return AdaptResult(model=model, tokenizer=tokenizer, config=cfg, base_model=base_model, metrics=metrics,
                       history=history, timings=timings, device=describe_device(device),
                       counts={"texts": len(train_texts), "heldout": len(held_texts)}, head_initialised=head_initialised)


def _set_trainable(params: Sequence[torch.nn.Parameter], on: bool) -> None:
    for p in params:
        p.requires_grad_(on)
