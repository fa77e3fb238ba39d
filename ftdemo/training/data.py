"""Labelled examples → splits → tokenized features → length-bucketed, token-budget batches.

Pure functions over plain data (torch appears only in `collate`), so every rule here
is tested without a model. The splitting rules live in `ftdemo.training.splits`.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ftdemo.errors import InvalidInputError
from ftdemo.tasks import LabelledText, TaskType, content_hash
from ftdemo.training.splits import Splits, check_examples, make_splits  # noqa: F401  (re-exported: one data API)

if TYPE_CHECKING:
    import torch

__all__ = [
    "Features", "Splits", "check_examples", "make_splits", "snapshot_hash", "tokenize",
    "token_budget_batches", "collate", "real_token_share", "token_counts",
]


CHUNK_BATCHES = 50  # training batches are cut from length-sorted chunks of about this many batches


@dataclass
class Features:
    """Tokenized examples as plain lists of ints (no padding); one row per example."""

    ids: list[int]
    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None  # only for pairs; single texts use the model's all-zero default
    targets: list[list[int]]  # label indices per example (exactly one unless multi-label)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> list[int]:
        return [len(row) for row in self.input_ids]


def snapshot_hash(examples: Sequence[LabelledText]) -> str:
    """Identity of a labelled snapshot: sha256 over (id, content hash, labels), independent of order."""
    rows = sorted((ex.id, content_hash(ex.text, ex.text_pair), list(ex.labels)) for ex in examples)
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode("utf-8")).hexdigest()


def tokenize(examples: Sequence[LabelledText], tokenizer: Any, labels: Sequence[str], task: TaskType,
             max_length: int) -> Features:
    """Tokenize once, up front: fast tokenizer, truncation, no padding (batches pad themselves).

    Pairs are truncated longest-first and keep token_type_ids, which is how BERT tells the
    two segments apart; single texts drop them because the model's default is all zeros.
    """
    task = TaskType.parse(task)
    if not examples:  # the tokenizer cannot take an empty batch
        return Features([], [], [] if task.has_pair else None, [])
    index = {lab: i for i, lab in enumerate(labels)}
    texts = [ex.text for ex in examples]
    pairs = [ex.text_pair or "" for ex in examples] if task.has_pair else None
    enc = tokenizer(texts, pairs, truncation=True if pairs is None else "longest_first", max_length=max_length,
                    padding=False, return_attention_mask=False,
                    return_token_type_ids=task.has_pair and "token_type_ids" in tokenizer.model_input_names)
    try:
        targets = [[index[lab] for lab in ex.labels] for ex in examples]
    except KeyError as err:
        raise InvalidInputError(f"label {err.args[0]!r} is not in this dataset's labels: {', '.join(labels)}") from None
    return Features(
        ids=[ex.id for ex in examples],
        input_ids=[list(row) for row in enc["input_ids"]],
        token_type_ids=[list(row) for row in enc["token_type_ids"]] if "token_type_ids" in enc else None,
        targets=targets,
    )


def token_budget_batches(lengths: Sequence[int], max_tokens: int, *, seed: int | None = None,
                         max_examples: int = 0, chunk_batches: int = CHUNK_BATCHES,
                         chunk_examples: int = 0) -> list[list[int]]:
    """Group example indices into batches whose padded size (count x longest) stays within max_tokens.

    Training (seed given): shuffle all indices, cut them into mega-chunks of about
    `chunk_batches` batches, sort each chunk by length, cut batches greedily, then shuffle
    the batch order. Sorting inside a chunk keeps padding low; shuffling before chunking
    and after batching keeps the order random from epoch to epoch (a fully sorted pass
    would feed the model a length curriculum). Evaluation (seed None): one global sort.
    An example longer than the budget gets a batch of its own. Every index appears once.
    A chunk holds `chunk_examples` indices if given, else as many as `chunk_batches` batches of
    mean-length texts fill; give it when `max_examples`, not the budget, bounds the batches (a GPU's
    budget), so that chunks stay as small, and batches as varied, as with the CPU's budget.
    """
    if max_tokens < 1:
        raise InvalidInputError(f"the token budget per batch must be positive, got {max_tokens}")
    n = len(lengths)
    if n == 0:
        return []
    order = list(range(n))
    rng = random.Random(seed) if seed is not None else None
    if rng is None:
        chunks = [order]
    else:
        rng.shuffle(order)
        mean_len = max(1.0, sum(lengths) / n)
        chunk = chunk_examples or max(1, int(chunk_batches * max_tokens / mean_len))
        chunks = [order[i:i + chunk] for i in range(0, n, chunk)]
    batches: list[list[int]] = []
    for part in chunks:
        batch: list[int] = []
        longest = 0
        for i in sorted(part, key=lengths.__getitem__):  # stable: ties keep the shuffled order
            grown = max(longest, lengths[i])
            if batch and (grown * (len(batch) + 1) > max_tokens or (max_examples and len(batch) >= max_examples)):
                batches.append(batch)
                batch, grown = [], lengths[i]
            batch.append(i)
            longest = grown
        if batch:
            batches.append(batch)
    if rng is not None:
        rng.shuffle(batches)
    return batches


def token_counts(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> tuple[int, int]:
    """(real tokens, padded tokens) of a batch plan; sums over several plans give their share."""
    real = sum(lengths[i] for b in batches for i in b)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches if b)
    return real, padded


def real_token_share(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Real tokens / padded tokens over a batch plan (1.0 = no padding at all)."""
    real, padded = token_counts(lengths, batches)
    return real / padded if padded else 1.0


def collate(features: Features, batch: Sequence[int], *, pad_id: int, multi_label: bool, num_labels: int,
            device: "torch.device | str | None" = None) -> dict[str, "torch.Tensor"]:
    """Pad one batch to its own longest row and move it to the device.

    The attention mask is left out when no row is padded, so SDPA can take its mask-free
    (fastest) kernel. Targets: class indices (long) or multi-hot rows (float) for BCE.
    """
    import torch

    rows = [features.input_ids[i] for i in batch]
    lengths = [len(r) for r in rows]
    width = max(lengths)
    out: dict[str, torch.Tensor] = {
        "input_ids": torch.tensor([r + [pad_id] * (width - len(r)) for r in rows], dtype=torch.long),
    }
    if min(lengths) < width:
        out["attention_mask"] = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
    if features.token_type_ids is not None:
        types = [features.token_type_ids[i] for i in batch]
        out["token_type_ids"] = torch.tensor([t + [0] * (width - len(t)) for t in types], dtype=torch.long)
    if multi_label:
        target = torch.zeros(len(batch), num_labels)
        for row, i in enumerate(batch):
            target[row, features.targets[i]] = 1.0
        out["labels"] = target
    else:
        out["labels"] = torch.tensor([features.targets[i][0] for i in batch], dtype=torch.long)
    if device is not None and str(device) != "cpu":
        # from pinned memory a copy to the GPU is truly asynchronous: the loop queues the next batch
        # while the card still works on this one (it never waits on the host between steps)
        pin = torch.device(device).type == "cuda"
        out = {k: (v.pin_memory() if pin else v).to(device, non_blocking=True) for k, v in out.items()}
    return out
