"""The Predictor: answers predictions and explanations from one model version, swappable live.

Two paths share one set of weights:
- fast (``predict``): requests go through a micro-batching queue; one worker
  thread pads each batch to its longest input and runs a single SDPA forward
  under ``torch.inference_mode``; no attentions, no gradients.
- explain (``explain``): runs in the caller's thread, computes attentions (eager
  twin of the model) or gradients only for the view asked.

Hot swap: the loaded model is one immutable object behind one attribute. Every
request reads it once and uses that object to the end, and ``swap`` loads the
new version completely before replacing the reference, so a request in flight
is answered by the old or the new model, never by half of each and never with an
error. The old weights are freed when its last request finishes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ftdemo.errors import BatcherClosedError
from ftdemo.explain.explainer import build_explanation, compute_scores
from ftdemo.explain.faithfulness import Faithfulness, deletion_test
from ftdemo.explain.methods import STEPS, check_ig_work, get_method
from ftdemo.explain.model_run import ExplainRequest, encode_one
from ftdemo.explain.types import Explanation
from ftdemo.models.inference import (
    LoadedModel,
    Prediction,
    check_input,
    check_task,
    encode,
    load_model_dir,
    probabilities,
    to_prediction,
)
from ftdemo.serving.batching import MicroBatcher

__all__ = ["Predictor", "Prediction", "Explanation", "BatcherClosedError"]

PairInput = str | tuple[str, str | None]
@dataclass(frozen=True)
class _Request:
    text: str
    text_pair: str | None


def _split(item: PairInput) -> tuple[str, str | None]:
    if isinstance(item, tuple):
        return item[0], item[1] if len(item) > 1 else None
    return item, None


class Predictor:
    """Serve one model directory; see the module docstring for the two paths and hot swap.

    device: "auto" (cuda if available), "cpu", "cuda", "cuda:1", …
    max_batch / max_wait_ms: micro-batching limits (wait only applies under load).
    """

    def __init__(
        self, model_dir: str | Path, metadata: dict | None = None, device: str = "auto",
        max_batch: int = 32, max_wait_ms: float = 5.0,
    ) -> None:
        self._device = device
        self._loaded: LoadedModel = load_model_dir(model_dir, metadata, device)
        self._swap_lock = threading.Lock()
        self._batcher: MicroBatcher[_Request, Prediction] = MicroBatcher(
            self._run_batch, max_batch=max_batch, max_wait_ms=max_wait_ms, name="ftdemo-predict"
        )

    # what is being served

    @property
    def model_dir(self) -> str:
        return self._loaded.path

    @property
    def version(self) -> str:
        return self._loaded.version

    @property
    def labels(self) -> tuple[str, ...]:
        return self._loaded.labels

    @property
    def task(self) -> str:
        return self._loaded.task.value

    @property
    def max_length(self) -> int:
        return self._loaded.max_length

    @property
    def tokenizer(self):  # noqa: ANN201 - a transformers fast tokenizer
        """The current model's tokenizer (read-only use: counting tokens, showing pieces)."""
        return self._loaded.tokenizer

    @property
    def num_layers(self) -> int:
        return self._loaded.num_layers

    @property
    def num_heads(self) -> int:
        return self._loaded.num_heads

    @property
    def batch_stats(self) -> dict[str, int]:
        """Batches run, items served and the largest batch so far (for monitoring and tests)."""
        b = self._batcher
        return {"batches": b.batches, "items": b.items, "largest_batch": b.largest_batch}

    # fast path

    def predict(self, text: str, text_pair: str | None = None) -> Prediction:
        """Classify one input. Raises InvalidInputError for empty input."""
        check_input(text, text_pair)
        check_task(self._loaded, text_pair)
        return self._batcher.run_one(_Request(text, text_pair))

    def predict_many(self, items: Sequence[PairInput]) -> list[Prediction]:
        """Classify many inputs (strings or (text, text_pair) tuples); order is kept."""
        requests = []
        for item in items:
            text, pair = _split(item)
            check_input(text, pair)
            check_task(self._loaded, pair)
            requests.append(_Request(text, pair))
        # similar lengths share batches, so little compute goes to padding; answers keep the caller's order
        order = sorted(range(len(requests)), key=lambda i: len(requests[i].text) + len(requests[i].text_pair or ""))
        futures = self._batcher.submit_many([requests[i] for i in order])
        results: list[Prediction | None] = [None] * len(requests)
        for i, fut in zip(order, futures):
            results[i] = fut.result()
        return results  # type: ignore[return-value]

    def _run_batch(self, requests: list[_Request]) -> list[Prediction]:
        loaded = self._loaded  # one model for the whole batch, even if a swap lands meanwhile
        results: list[Prediction | None] = [None] * len(requests)
        # inputs with and without a text_pair tokenise differently; run them as separate groups
        for has_pair in (False, True):
            idx = [i for i, r in enumerate(requests) if (r.text_pair is not None) == has_pair]
            if not idx:
                continue
            probs, tokens, truncated = self._forward(
                loaded, [requests[i].text for i in idx], [requests[i].text_pair for i in idx] if has_pair else None
            )
            for j, i in enumerate(idx):
                results[i] = to_prediction(loaded, probs[j], tokens[j], truncated[j])
        return results  # type: ignore[return-value]

    @staticmethod
    def _forward(
        loaded: LoadedModel, texts: list[str], pairs: list[str | None] | None
    ) -> tuple[np.ndarray, list[list[str]], list[bool]]:
        batch = encode(loaded, texts, pairs)
        tokens = [[t for t, m in zip(e.tokens, e.attention_mask) if m] for e in batch.encodings]
        with torch.inference_mode():
            logits = loaded.model(**batch.model_inputs(loaded.device)).logits
        return probabilities(loaded, logits), tokens, batch.truncated

    # explain path

    def explain(
        self, text: str, text_pair: str | None = None, *, method: str = "cls", layer: int = -1,
        head: int | None = None, target_label: str | None = None, ig_steps: int = 32, baseline: str = "pad",
        show_special: bool = False, faithfulness_k: int | None = None, seed: int = 0,
    ) -> Explanation:
        """Explain one prediction with one view.

        method: a name from `ftdemo.explain.methods.METHODS` (cls, rollout, ig, matrix, overview);
        layer (0-based, -1 = last) and head (None = mean of heads) for attention views;
        target_label (None = the predicted label), ig_steps and baseline for Integrated Gradients.
        faithfulness_k: also run the deletion test with that many words.
        """
        check_input(text, text_pair)
        loaded = self._loaded
        check_task(loaded, text_pair)
        request = ExplainRequest(method, layer, head, target_label, ig_steps, baseline)
        x = encode_one(loaded, text, text_pair)
        if get_method(method).uses(STEPS):  # the token count is known only now, after truncation
            check_ig_work(ig_steps, len(x.info.tokens))
        scores = compute_scores(loaded, x, request)
        expl = build_explanation(loaded, x, scores, request, show_special=show_special)
        if faithfulness_k:
            faith = deletion_test(
                x.texts, x.words, scores.word_scores, lambda v: self._probabilities(loaded, v),
                target=scores.target, k=faithfulness_k, seed=seed,
            )
            expl = _with_faithfulness(expl, faith)
        return expl

    def faithfulness(
        self, text: str, text_pair: str | None = None, *, k: int = 3, methods: Sequence[str] = ("cls", "rollout", "ig"),
        target_label: str | None = None, layer: int = -1, ig_steps: int = 32, baseline: str = "pad", seed: int = 0,
    ) -> dict[str, Faithfulness]:
        """The deletion test for several methods side by side, on the same label and seed."""
        check_input(text, text_pair)
        loaded = self._loaded
        check_task(loaded, text_pair)
        x = encode_one(loaded, text, text_pair)
        if any(get_method(m).uses(STEPS) for m in methods):
            check_ig_work(ig_steps, len(x.info.tokens))
        out: dict[str, Faithfulness] = {}
        for method in methods:
            scores = compute_scores(loaded, x, ExplainRequest(method, layer, None, target_label, ig_steps, baseline))
            out[method] = deletion_test(
                x.texts, x.words, scores.word_scores, lambda v: self._probabilities(loaded, v),
                target=scores.target, k=k, seed=seed,
            )
        return out

    def _probabilities(self, loaded: LoadedModel, variants: list[list[str]]) -> np.ndarray:
        """Probabilities for edited copies of one input, with the model that scored it (no queue)."""
        texts = [v[0] for v in variants]
        pairs = [v[1] for v in variants] if len(variants[0]) > 1 else None
        probs, _, _ = self._forward(loaded, texts, pairs)
        return probs

    # lifecycle

    def swap(self, model_dir: str | Path, metadata: dict | None = None) -> None:
        """Serve another model version from now on, without dropping a request.

        The new version is loaded before anything changes; if it fails to load,
        the error is raised here and the current model keeps serving.
        """
        with self._swap_lock:  # two swaps at once: the later one wins, both load fully
            new = load_model_dir(model_dir, metadata, self._device)
            self._loaded = new

    def close(self) -> None:
        """Finish queued requests and stop the batching worker."""
        self._batcher.close()

    def __enter__(self) -> "Predictor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _with_faithfulness(expl: Explanation, faith: Faithfulness) -> Explanation:
    return replace(expl, faithfulness=faith)
