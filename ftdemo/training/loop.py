"""The fine-tuning loop: labelled examples in; a trained classifier, metrics and history out.

No database and no UI here: progress leaves through callbacks, cancellation comes in
through `should_stop`. The whole run reads top to bottom in `train`.

Where the speed comes from (each choice is local and commented where it is made):
- tokenize once, no padding; batches of up to `batch_size` length-sorted examples within a
  *token budget* (ftdemo.training.data), so ~97% of the tokens a batch computes are real, and a batch
  with no padding at all drops its attention mask (SDPA then takes its mask-free kernel); on a GPU
  the budget is sized for the card, so batches of long texts are not cut smaller as on the CPU;
- batches reach a GPU from pinned memory with non-blocking copies;
- SDPA attention; bf16 autocast on CUDA (fp16 + GradScaler without bf16), fp32 on CPU;
- optional frozen embeddings (no gradient for the largest matrix, no AdamW state for half of
  MiniLM's parameters) and frozen lower layers (backward stops early): speed options, off by
  default because they cost accuracy on small sets;
- fused AdamW (CUDA and CPU); CPU threads = the cores this process may use;
- no per-step host sync: the loss accumulates on the device and is read every `log_every`;
- evaluation under inference_mode in 4x bigger length-sorted batches, one copy at the end;
- the best epoch's weights are kept on the CPU (trainable ones only: frozen ones never change).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ftdemo.devices import describe_device, resolve_device
from ftdemo.errors import TrainingCancelled
from ftdemo.tasks import LabelledText, TaskType
from ftdemo.training import metrics as M
from ftdemo.training import setup
from ftdemo.training.config import TrainConfig
from ftdemo.training.data import (
    CHUNK_BATCHES,
    Features,
    collate,
    make_splits,
    snapshot_hash,
    token_budget_batches,
    token_counts,
    tokenize,
)
from ftdemo.training.distributed import Dist
from ftdemo.training.evaluate import multi_hot, predict, split_metrics
from ftdemo.training.stopping import EpochChoice, clearly_better  # noqa: F401  (clearly_better: re-exported)

PLAN_CHECK_EVERY = 10  # while counting the batch plans, look for a cancel every this many epochs


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report. kind: "start" | "step" | "epoch" | "end"."""

    kind: str
    epoch: int  # 1-based; 0 before training starts
    epochs: int
    step: int  # optimizer steps done
    total_steps: int
    elapsed_s: float
    loss: float | None = None  # mean training loss since the previous "step" event
    learning_rate: float | None = None
    examples_per_s: float | None = None
    eta_s: float | None = None
    metrics: dict[str, Any] | None = None  # "epoch": validation metrics; "end": final metrics

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Callback = Callable[[ProgressEvent], None]


@dataclass
class TrainResult:
    """Everything a training run produced. `summary()` is the JSON-able part."""

    model: Any
    tokenizer: Any
    task: TaskType
    labels: list[str]
    metrics: dict[str, dict[str, Any]]  # {"validation": {...}, "test": {...}}
    history: list[dict[str, Any]]
    timings: dict[str, float]
    device: str
    thresholds: dict[str, float] | None  # multi-label only: tuned on validation
    config: TrainConfig
    base_model: str
    counts: dict[str, Any] = field(default_factory=dict)  # per split: total and per label
    snapshot_hash: str = ""
    best_epoch: int = 0
    stopped_early: bool = False
    is_main_process: bool = True  # False on the other ranks of a multi-GPU run: only rank 0 saves
    # per validation row (split order) of the kept epoch: 1/0 right or wrong (multi-label: the row's F1), what a
    # paired comparison of two models on the same rows needs (training/self_train.py)
    validation_scores: np.ndarray | None = None
    self_training: dict[str, Any] | None = None  # rounds, pseudo-labels and each student's comparison

    def summary(self) -> dict[str, Any]:
        return {
            "task": self.task.value, "labels": list(self.labels), "base_model": self.base_model,
            "metrics": self.metrics, "history": self.history, "timings": self.timings, "device": self.device,
            "thresholds": self.thresholds, "config": self.config.to_dict(), "counts": self.counts,
            "snapshot_hash": self.snapshot_hash, "best_epoch": self.best_epoch, "stopped_early": self.stopped_early,
            **({"self_training": self.self_training} if self.self_training else {}),
        }


def train(examples: Sequence[LabelledText], labels: Sequence[str], task: TaskType | str,
          config: TrainConfig | None = None, *, callbacks: Sequence[Callback] = (),
          should_stop: Callable[[], bool] | None = None, extra_train: Sequence[LabelledText] = (),
          extra_weight: float = 1.0) -> TrainResult:
    """Fine-tune `config.base_model` on `examples` and return the best model on validation.

    `extra_train` (self-training's pseudo-labelled texts) join the training split only, never validation or
    test, each weighing `extra_weight` in the loss (a gold example weighs 1).
    Raises InvalidInputError for unusable data (e.g. a label with fewer than 2 examples)
    and TrainingCancelled when should_stop() turns true (checked before every batch).
    """
    cfg = config or TrainConfig()
    task, labels = TaskType.parse(task), list(labels)
    base_model = cfg.base_model or _bundled()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    dist = Dist.from_env(cpu=cfg.device == "cpu")
    emit = _emitter(callbacks if dist.is_main else ())
    stop = should_stop or (lambda: False)

    # data: deterministic splits (the test split only ever gets evaluated at the very end)
    splits = make_splits(examples, labels, task, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction)

    # runtime: device, precision, threads, seeds
    device = resolve_device(dist.device or cfg.device)  # a launcher's device gets the CUDA settings too
    precision = setup.resolve_precision(cfg.precision, device)
    torch.manual_seed(cfg.seed)
    with setup.torch_threads(device, cfg.num_threads):
        # model: tokenizer + classifier whose config carries id2label/label2id/problem_type
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(base_model, use_fast=True, trust_remote_code=False)
        model = setup.load_classifier(base_model, labels, task)
        pooler_reinitialised = cfg.reinit_pooler and setup.reinit_pooler(model)
        model = model.to(device)
        timings["load_s"] = time.perf_counter() - t0

        # preprocess: tokenize every split once, keep plain int lists
        t = time.perf_counter()
        feats = {name: tokenize(list(getattr(splits, name)) + (list(extra_train) if name == "train" else []),
                                tokenizer, labels, task, cfg.max_length) for name in ("train", "validation", "test")}
        weights = torch.tensor([1.0] * len(splits.train) + [float(extra_weight)] * len(extra_train), device=device) \
            if extra_train else None  # per-example loss weights; None: all 1, the plain loss
        timings["tokenize_s"] = time.perf_counter() - t
        lengths = feats["train"].lengths
        cap = cfg.resolved_max_batch_examples
        budget = cfg.batch_tokens or max(1, round(cfg.batch_size * sum(lengths) / len(lengths)))
        card_sized = not cfg.batch_tokens and device.type == "cuda"
        if card_sized:  # a card holds batches of the longest texts whole: only the example cap binds there
            budget = max(budget, min(cap * max(lengths), setup.card_token_budget(
                torch.cuda.get_device_properties(device).total_memory, getattr(model.config, "hidden_size", 768),
                getattr(model.config, "num_hidden_layers", 12), precision)))
        budget = max(budget, max(lengths))  # the longest example must fit a batch on its own
        chunk = CHUNK_BATCHES * cap if card_sized else 0  # sorted chunks as small as with the CPU's budget
        plan_of = lambda epoch: dist.shard(token_budget_batches(  # noqa: E731
            lengths, budget, seed=cfg.seed + epoch, max_examples=cap, chunk_examples=chunk))
        epochs = cfg.resolved_epochs(len(plan_of(0)))  # 0 = automatic, from the steps one pass takes
        plan_totals = _count_plans(plan_of, epochs, lengths, lambda: dist.any(stop()))
        total_steps = plan_totals["steps"]
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        batch_of = lambda f, b: collate(f, b, pad_id=pad_id, multi_label=task.is_multi_label,  # noqa: E731
                                        num_labels=len(labels), device=device)

        # optimizer: frozen parts get neither gradients nor optimizer state
        trainable = setup.freeze(model, embeddings=cfg.freeze_embeddings, layers=cfg.freeze_layers)
        groups = setup.param_groups(model, lr=cfg.learning_rate, weight_decay=cfg.weight_decay,
                                    layer_decay=cfg.layer_lr_decay)
        optimizer = setup.make_optimizer(groups, device)
        scheduler = setup.warmup_linear(optimizer, round(cfg.warmup_ratio * total_steps), total_steps)
        scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
        mean_batch = plan_totals["examples"] / max(1, total_steps)
        loss_fn = _loss_fn(task, cfg, feats["train"], len(labels), device, mean_batch)
        trainable_names = [n for n, p in model.named_parameters() if p.requires_grad]  # same order as params
        params = [p for p in model.parameters() if p.requires_grad]
        net = dist.wrap(model)  # DistributedDataParallel on multi-GPU runs, the model itself otherwise

        # train
        emit(ProgressEvent("start", 0, epochs, 0, total_steps, time.perf_counter() - t0))
        history: list[dict[str, Any]] = []
        # which epoch to keep and when to stop: training/stopping.py (kept: its weights, thresholds, metrics)
        choice = EpochChoice(cfg.early_stopping_patience, len(feats["validation"]))
        kept: dict[int, dict[str, Any]] = {}
        best_state: dict[str, torch.Tensor] | None = None
        step, seen, train_s, train_cpu_s, eval_s = 0, 0, 0.0, 0.0, 0.0
        thresholds = [cfg.multi_label_threshold] * len(labels)
        stopped_early = False
        for epoch in range(1, epochs + 1):
            net.train()
            t_epoch, cpu_epoch = time.perf_counter(), time.process_time()
            running, since_log, epoch_loss = torch.zeros((), device=device), 0, torch.zeros((), device=device)
            plan = plan_of(epoch - 1)  # made again, the same as when counted (it depends only on seed + epoch)
            for i, batch in enumerate(plan):
                if dist.any(stop() if (dist.world == 1 or i % cfg.log_every == 0) else False):
                    raise TrainingCancelled("training was cancelled; no model version was saved")
                inputs = batch_of(feats["train"], batch)
                target = inputs.pop("labels")
                with setup.autocast(device, precision):
                    logits = net(**inputs).logits
                loss = loss_fn(logits.float(), target, None if weights is None else weights[batch])
                _update(loss, optimizer, scheduler, scaler, params, cfg.max_grad_norm)
                step, seen, since_log = step + 1, seen + len(batch), since_log + 1
                running += loss.detach()  # stays on the device: no per-step host sync
                epoch_loss += loss.detach()
                if step % cfg.log_every == 0 or i == len(plan) - 1:
                    elapsed = train_s + time.perf_counter() - t_epoch
                    emit(ProgressEvent("step", epoch, epochs, step, total_steps, time.perf_counter() - t0,
                                       loss=float(running.item()) / since_log, learning_rate=max(scheduler.get_last_lr()),
                                       examples_per_s=seen * dist.world / elapsed,
                                       eta_s=elapsed / step * (total_steps - step) + eval_s / epoch * (epochs - epoch + 1)))
                    running.zero_()
                    since_log = 0
            train_s += time.perf_counter() - t_epoch
            train_cpu_s += time.process_time() - cpu_epoch  # all threads; robust to a busy machine

            # evaluate: validation metrics pick the best epoch and (multi-label) the thresholds
            t = time.perf_counter()
            val_probs, val_loss = predict(model, feats["validation"], batch_of, budget, device, precision, task)
            if task.is_multi_label and cfg.tune_thresholds:
                thresholds = M.tune_thresholds(multi_hot(feats["validation"], len(labels)), val_probs,
                                               default=cfg.multi_label_threshold)
            val = split_metrics(task, feats["validation"], val_probs, labels, thresholds)
            val["loss"] = val_loss
            eval_s += time.perf_counter() - t
            row = {"epoch": epoch, "step": step, "train_loss": float(epoch_loss.item()) / max(1, len(plan)),
                   "learning_rate": max(scheduler.get_last_lr()), "seconds": time.perf_counter() - t_epoch,
                   "validation": {k: val[k] for k in ("loss", "accuracy", "macro_f1", "micro_f1") if k in val}}
            history.append(row)
            verdict = choice.after_epoch(epoch, val.get("macro_f1", 0.0), val_loss)
            kept = {e: k for e, k in kept.items() if e == choice.best.epoch}  # the best one and this one
            kept[epoch] = {"thresholds": list(thresholds), "metrics": val, "probs": val_probs}
            if verdict.best:
                best_state = {n: p.detach().to("cpu", copy=True)  # frozen weights never change
                              for n, p in zip(trainable_names, params)}
            emit(ProgressEvent("epoch", epoch, epochs, step, total_steps, time.perf_counter() - t0,
                               loss=row["train_loss"], learning_rate=row["learning_rate"],
                               examples_per_s=seen * dist.world / train_s, metrics=row["validation"],
                               eta_s=(train_s + eval_s) / epoch * (epochs - epoch)))
            if verdict.stop and epoch < epochs:
                stopped_early = True
                break

        served = choice.served()  # the last epoch, or the best one when it is clearly better (on enough rows)
        if served != history[-1]["epoch"]:
            model.load_state_dict(best_state, strict=False)
        best_state = None
        best = {"epoch": served, **kept[served]}
        thresholds = best["thresholds"]
        val_scores = M.row_scores(task, feats["validation"].targets, best["probs"], thresholds)
        t = time.perf_counter()
        test_probs, test_loss = predict(model, feats["test"], batch_of, budget, device, precision, task)
        test = split_metrics(task, feats["test"], test_probs, labels, thresholds)
        if test.get("n"):
            test["loss"] = test_loss
        eval_s += time.perf_counter() - t
        model.eval()

    real_tokens = sum(lengths) * len(history)
    timings.update(epochs_planned=epochs, train_s=train_s, train_cpu_s=train_cpu_s, eval_s=eval_s, total_s=time.perf_counter() - t0,
                   train_examples_per_s=seen * dist.world / train_s if train_s else 0.0,
                   train_tokens_per_s=real_tokens / train_s if train_s else 0.0,
                   real_token_share=plan_totals["real_tokens"] / plan_totals["padded_tokens"]
                   if plan_totals["padded_tokens"] else 1.0,
                   batch_tokens=float(budget), trainable_params=float(trainable), steps=float(step),
                   pooler_reinitialised=float(pooler_reinitialised))
    metrics_out = {"validation": best["metrics"], "test": test}
    emit(ProgressEvent("end", len(history), epochs, step, total_steps, timings["total_s"], metrics=metrics_out))
    return TrainResult(
        model=model, tokenizer=tokenizer, task=task, labels=labels, metrics=metrics_out, history=history,
        timings=timings, device=describe_device(device) + dist.describe(), config=cfg, base_model=base_model,
        thresholds=dict(zip(labels, thresholds)) if task.is_multi_label else None,
        counts=_counts(splits, labels, len(extra_train)), snapshot_hash=snapshot_hash(examples),
        best_epoch=best["epoch"], stopped_early=stopped_early, is_main_process=dist.is_main,
        validation_scores=val_scores,
    )


def _count_plans(plan_of: Callable[[int], list[list[int]]], epochs: int, lengths: Sequence[int],
                 stop: Callable[[], bool]) -> dict[str, int]:
    """Steps, examples and real/padded tokens over every epoch's batch plan, made one at a time and
    dropped: the schedule needs the total step count, but holding every epoch's plan grew memory with
    the epoch count. A cancel is seen every PLAN_CHECK_EVERY plans (the same epochs on every rank, as
    `stop` is a collective call; short runs never call it here, so they cancel where they always did)."""
    totals = {"steps": 0, "examples": 0, "real_tokens": 0, "padded_tokens": 0}
    for epoch in range(epochs):
        if epoch and epoch % PLAN_CHECK_EVERY == 0 and stop():
            raise TrainingCancelled("training was cancelled; no model version was saved")
        plan = plan_of(epoch)
        real, padded = token_counts(lengths, plan)
        totals["steps"] += len(plan)
        totals["examples"] += sum(len(b) for b in plan)
        totals["real_tokens"] += real
        totals["padded_tokens"] += padded
    return totals


def _update(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any,
            params: list[torch.nn.Parameter], max_grad_norm: float) -> None:
    """Backward, clip, step, advance the schedule, drop the grads; fp16 goes through the GradScaler."""
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
    else:
        loss.backward()
    if max_grad_norm:
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    if scaler is not None:
        scaler.step(optimizer)  # skips the step when the scaled grads overflowed
        scaler.update()
    else:
        optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


def _loss_fn(task: TaskType, cfg: TrainConfig, train: Features, k: int, device: torch.device,
             mean_batch: float) -> Callable:
    """Cross-entropy (single/pair) or BCE (multi-label); "balanced" weights from the training split.

    Summed over the batch and divided by the *average* batch size, not this batch's: token-budget
    batches hold many short or few long texts, and a per-batch mean would give one long text the
    weight of ten short ones. This way every example counts the same, as with fixed-size batches.
    The returned function takes per-example weights (self-training's pseudo-labels weigh less), or None.
    """
    if task.is_multi_label:
        pos_weight = None
        if cfg.class_weights == "balanced":
            pos = multi_hot(train, k).sum(axis=0)
            pos_weight = torch.tensor(np.clip((len(train) - pos) / np.maximum(pos, 1), 0.1, 100.0),
                                      dtype=torch.float, device=device)
        def multi(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
            if w is None:
                return F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight, reduction="sum") / (mean_batch * k)
            per = F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight, reduction="none")
            return (per * w[:, None]).sum() / (mean_batch * k)
        return multi
    weight = None
    if cfg.class_weights == "balanced":
        counts = np.bincount([t[0] for t in train.targets], minlength=k)
        weight = torch.tensor(len(train) / (k * np.maximum(counts, 1)), dtype=torch.float, device=device)
    smoothing = cfg.label_smoothing

    def single(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        if w is None:
            return F.cross_entropy(logits, y, weight=weight, reduction="sum", label_smoothing=smoothing) / mean_batch
        per = F.cross_entropy(logits, y, weight=weight, reduction="none", label_smoothing=smoothing)
        return (per * w).sum() / mean_batch
    return single


def _counts(splits: Any, labels: Sequence[str], pseudo: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"pseudo_labelled": pseudo} if pseudo else {}
    for name, part in (("train", splits.train), ("validation", splits.validation), ("test", splits.test)):
        per = {lab: 0 for lab in labels}
        for ex in part:
            for lab in ex.labels:
                per[lab] += 1
        out[name] = {"total": len(part), "per_label": per}
    return out


def _emitter(callbacks: Sequence[Callback]) -> Callable[[ProgressEvent], None]:
    def emit(event: ProgressEvent) -> None:
        for cb in callbacks:
            cb(event)
    return emit


def _bundled() -> str:
    from ftdemo.settings import bundled_model_path

    return bundled_model_path()
