"""One model version in memory: safe loading, tokenisation with truncation notices, logits → Prediction.

No threads and no queues here (that is serving.py); no explanations (explain/).
A model version is a ``save_pretrained`` directory: safetensors weights only,
never pickles, never remote code.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ftdemo.devices import resolve_device
from ftdemo.errors import InvalidInputError, NotFoundError, UnsafeModelError
from ftdemo.models.loading import FROM_PRETRAINED
from ftdemo.models.registry import read_metadata
from ftdemo.tasks import TaskType

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Prediction:
    """A classification result, plain data.

    label: the most probable label. labels: the predicted set — [label] for
    single-label/pair, every label at or above its threshold for multi-label
    (possibly empty). probabilities: softmax (single/pair) or sigmoid (multi-label).
    """

    label: str
    labels: list[str]
    probabilities: dict[str, float]
    truncated: bool
    tokens: list[str]
    model_version: str
    task: str
    notice: str | None = None  # set when the input was cut to the model's maximum length

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "labels": list(self.labels), "probabilities": dict(self.probabilities),
            "truncated": self.truncated, "notice": self.notice, "tokens": list(self.tokens),
            "model_version": self.model_version, "task": self.task,
        }


@dataclass(frozen=True)
class LoadedModel:
    """Everything one model version needs to answer requests; never mutated after loading."""

    path: str
    version: str
    model: Any  # PreTrainedModel with SDPA attention: the fast path and gradients
    explain_model: Any  # the same weights with eager attention: attentions on demand
    tokenizer: Any
    backend_tokenizer: Any  # tokenizers.Tokenizer configured for serving (see serving_tokenizer)
    labels: tuple[str, ...]
    task: TaskType
    thresholds: np.ndarray
    max_length: int
    device: torch.device
    metadata: dict = field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def num_heads(self) -> int:
        return int(self.model.config.num_attention_heads)


def _labels_from(config: Any, metadata: dict) -> tuple[str, ...]:
    n = int(config.num_labels)
    from_config = tuple(str(config.id2label[i]) for i in range(n)) if config.id2label else ()
    labels = tuple(str(x) for x in metadata.get("labels") or from_config)
    if len(labels) != n:
        raise InvalidInputError(
            f"metadata lists {len(labels)} labels but the model has {n} outputs; "
            "the model directory and its metadata.json do not belong together"
        )
    return labels


def _task_from(config: Any, metadata: dict) -> TaskType:
    if metadata.get("task"):
        return TaskType.parse(metadata["task"])
    if getattr(config, "problem_type", None) == "multi_label_classification":
        return TaskType.MULTI_LABEL
    return TaskType.SINGLE_LABEL


def _eager_twin(model: Any) -> Any:
    """A second module tree over the *same* weight tensors, configured for eager attention.

    Switching the attention implementation on the serving model would race with
    requests in flight; a twin that shares storage costs no extra weight memory.
    """
    config = copy.deepcopy(model.config)
    config._attn_implementation = "eager"
    with torch.device("meta"):
        twin = type(model)(config)
    twin.load_state_dict(model.state_dict(), assign=True)
    for name, buf in model.named_buffers():  # non-persistent buffers are not in the state dict
        owner, _, attr = name.rpartition(".")
        twin.get_submodule(owner)._buffers[attr] = buf
    return twin.eval()


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


def check_safe_weights(path: Path) -> None:
    """Refuse a directory without safetensors weights: pickles next to them are ignored, pickles alone
    would run code when loaded (UnsafeModelError), and no weights at all is an InvalidInputError."""
    if any(path.glob("*.safetensors")):
        return
    pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise UnsafeModelError(
            f"{path.name} has only pickle weights ({', '.join(pickles)}), which can run code when loaded; "
            "ftdemo loads safetensors only: convert the model with save_pretrained in a trusted environment")
    raise InvalidInputError(f"{path} has no .safetensors weights; only safetensors models are loaded")


def load_model_dir(model_dir: str | Path, metadata: dict | None = None, device: str = "auto") -> LoadedModel:
    """Load a save_pretrained directory (a registry version, or any classifier) for prediction and
    explanation: safetensors only, no remote code, float32; the one loader of the project."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise NotFoundError(f"no model at {path}: config.json is missing (is this a save_pretrained directory?)")
    check_safe_weights(path)
    meta = dict(metadata) if metadata is not None else read_metadata(path)
    dev = resolve_device(device)
    # float32 whatever the checkpoint was saved in: a bf16 version is slow on CPU, and attention
    # rows that sum to 1 and IG completeness need the precision
    common = {"use_safetensors": True, "trust_remote_code": False, "local_files_only": True, "dtype": torch.float32}
    try:
        with FROM_PRETRAINED:  # see models/loading.py: concurrent loads corrupt transformers' global state
            try:
                model = AutoModelForSequenceClassification.from_pretrained(path, attn_implementation="sdpa", **common)
            except (ValueError, ImportError):  # an architecture without SDPA support: its default is fine
                model = AutoModelForSequenceClassification.from_pretrained(path, **common)
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False, local_files_only=True)
    except (OSError, ValueError, ImportError, KeyError) as err:
        raise InvalidInputError(f"cannot load the model version in {path}: {err}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise InvalidInputError(f"{path} has no fast tokenizer (tokenizer.json); word offsets need one")
    model.to(dev).eval().requires_grad_(False)  # gradients flow to inputs only, never into shared weights
    labels = _labels_from(model.config, meta)
    thresholds_map = meta.get("thresholds") or {}
    thresholds = np.array([float(thresholds_map.get(lab, DEFAULT_THRESHOLD)) for lab in labels])
    limits = [int(model.config.max_position_embeddings)]
    if 0 < int(tokenizer.model_max_length) < 1_000_000:  # some tokenizers say "1e30" for "unknown"
        limits.append(int(tokenizer.model_max_length))
    max_length = min(limits)
    return LoadedModel(
        path=str(path), version=str(meta.get("version") or path.name), model=model,
        explain_model=_eager_twin(model), tokenizer=tokenizer,
        backend_tokenizer=serving_tokenizer(tokenizer, max_length), labels=labels,
        task=_task_from(model.config, meta), thresholds=thresholds, max_length=max_length,
        device=dev, metadata=meta,
    )


def check_input(text: Any, text_pair: Any = None) -> None:
    """Reject what cannot be classified, with a message that says what to send instead."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("the text is empty; type or paste some text to classify")
    if text_pair is not None and (not isinstance(text_pair, str) or not text_pair.strip()):
        raise InvalidInputError("the second text (text_pair) is empty; fill it in or leave it out")


def check_task(loaded: LoadedModel, text_pair: str | None) -> None:
    """A pair model needs both texts; a single-text model takes one."""
    if loaded.task is TaskType.PAIR and text_pair is None:
        raise InvalidInputError("this model classifies pairs of texts; give a second text (text_pair)")
    if loaded.task is not TaskType.PAIR and text_pair is not None and loaded.metadata.get("task"):
        raise InvalidInputError(f"this model is {loaded.task.value}, not pair; leave out the second text")


@dataclass(frozen=True)
class EncodedBatch:
    """A tokenised batch: model inputs (CPU tensors), the tokenizer's encodings, a truncated flag each."""

    tensors: dict[str, torch.Tensor]
    encodings: list[Any]  # tokenizers.Encoding: tokens, offsets, word ids, special-token mask, …
    truncated: list[bool]

    def model_inputs(self, device: torch.device) -> dict[str, torch.Tensor]:
        """Inputs for a forward pass; the mask is left out when nothing is padded (faster SDPA, same result)."""
        inputs = {k: v.to(device) for k, v in self.tensors.items()}
        if bool(inputs["attention_mask"].all()):
            del inputs["attention_mask"]
        return inputs


def serving_tokenizer(tokenizer: Any, max_length: int) -> Any:
    """A private copy of the fast tokenizer's Rust backend, set once to truncate at max_length and pad to the longest.

    Calling the backend directly skips per-call Python set-up in transformers, and
    because nobody changes this copy's settings afterwards, threads can share it.
    """
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.enable_truncation(max_length=max_length)  # longest_first: pairs lose from the longer text
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    backend.enable_padding(
        pad_id=pad_id, pad_token=tokenizer.pad_token or "[PAD]", pad_type_id=int(tokenizer.pad_token_type_id or 0)
    )
    return backend


def encode(loaded: LoadedModel, texts: list[str], pairs: list[str | None] | None = None) -> EncodedBatch:
    """Tokenise a batch, padded to its longest member, truncated to the model's limit.

    Truncation is read from each encoding's overflow, so it is exact.
    """
    has_pairs = pairs is not None and any(p is not None for p in pairs)
    if has_pairs and any(p is None for p in pairs):
        raise ValueError("encode(): mix of inputs with and without text_pair; batch them apart")
    batch = list(zip(texts, pairs)) if has_pairs else list(texts)
    encodings = loaded.backend_tokenizer.encode_batch(batch)
    tensors = {
        "input_ids": torch.tensor([e.ids for e in encodings], dtype=torch.long),
        "attention_mask": torch.tensor([e.attention_mask for e in encodings], dtype=torch.long),
    }
    if "token_type_ids" in loaded.tokenizer.model_input_names:
        tensors["token_type_ids"] = torch.tensor([e.type_ids for e in encodings], dtype=torch.long)
    return EncodedBatch(tensors, encodings, [bool(e.overflowing) for e in encodings])


def truncation_notice(loaded: LoadedModel) -> str:
    return (
        f"The input is longer than this model's limit of {loaded.max_length} tokens; "
        "only the beginning was used."
    )


def probabilities(loaded: LoadedModel, logits: torch.Tensor) -> np.ndarray:
    """Logits [n, labels] → probabilities: sigmoid per label for multi-label, softmax otherwise."""
    logits = logits.float()
    probs = torch.sigmoid(logits) if loaded.task.is_multi_label else torch.softmax(logits, dim=-1)
    return probs.cpu().numpy()


def to_prediction(loaded: LoadedModel, probs: np.ndarray, tokens: list[str], truncated: bool) -> Prediction:
    """One row of probabilities → a Prediction."""
    top = int(np.argmax(probs))
    if loaded.task.is_multi_label:
        chosen = [lab for lab, p, t in zip(loaded.labels, probs, loaded.thresholds) if p >= t]
    else:
        chosen = [loaded.labels[top]]
    return Prediction(
        label=loaded.labels[top],
        labels=chosen,
        probabilities={lab: round(float(p), 6) for lab, p in zip(loaded.labels, probs)},
        truncated=truncated,
        tokens=tokens,
        model_version=loaded.version,
        task=loaded.task.value,
        notice=truncation_notice(loaded) if truncated else None,
    )
