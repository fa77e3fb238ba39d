"""The explanation methods: one table that the explainer, the UI, the API and the CLI all read.

Each row says what a method is called (`name`, the API and CLI value), what the page shows
(`title`), what it needs from the model (attentions: one eager forward; gradients: backward passes),
which options apply, and the function that turns one encoded input into word scores.

Adding a method is a scoring function (scoring.py, or a module of its own) plus one row here;
`tests/explain/test_explain_methods.py` checks every row through the predictor.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ftdemo.errors import InvalidInputError

if TYPE_CHECKING:  # the scoring functions need torch; the table itself stays import-light for the UI
    from ftdemo.explain.model_run import EncodedInput, ExplainRequest, Scores
    from ftdemo.models.inference import LoadedModel

# Integrated Gradients runs a forward and a backward pass per step over every token: 1,024 steps on a
# 512-token text took 415 s of CPU with BERT-base. One explanation may do 1/16 of that at most.
MAX_IG_STEPS = 256
IG_TOKEN_STEPS = 32_768  # steps × tokens


def check_ig_work(steps: int, tokens: int) -> None:
    """Refuse an Integrated Gradients request over the work budget, saying how many steps this text allows."""
    allowed = max(1, min(MAX_IG_STEPS, IG_TOKEN_STEPS // max(tokens, 1)))
    if steps > allowed:
        raise InvalidInputError(
            f"ig_steps={steps} is too much work for this text ({tokens} tokens): use at most {allowed} steps "
            f"(steps × tokens may be at most {IG_TOKEN_STEPS:,}, and steps at most {MAX_IG_STEPS}), or a shorter text")


# option names a method may use (the UI shows a control for each one its method uses)
LAYER, HEAD, TARGET, STEPS = "layer", "head", "target_label", "ig_steps"


@dataclass(frozen=True)
class Method:
    name: str
    title: str
    needs: str  # "attentions" | "gradients"
    options: frozenset[str]
    signed: bool  # scores can be negative (diverging colours): evidence for and against a label
    summary: str
    scorer: str  # "module:function" computing the word scores (imported on first use: it needs torch)

    def uses(self, option: str) -> bool:
        return option in self.options

    def score(self, loaded: LoadedModel, x: EncodedInput, request: ExplainRequest) -> Scores:
        module, _, name = self.scorer.partition(":")
        fn: Callable[[LoadedModel, EncodedInput, ExplainRequest], Scores] = getattr(
            importlib.import_module(module), name)
        return fn(loaded, x, request)


SCORING = "ftdemo.explain.scoring"
METHODS: tuple[Method, ...] = (
    Method("cls", "CLS attention", "attentions", frozenset({LAYER, HEAD}), False,
           "attention from [CLS] to each word in one layer (one head, or the mean of heads)",
           f"{SCORING}:cls_scores"),
    Method("rollout", "Attention rollout", "attentions", frozenset({LAYER}), False,
           "attention rolled out through the layers up to one (Abnar & Zuidema 2020)", f"{SCORING}:rollout_scores"),
    Method("ig", "Integrated Gradients", "gradients", frozenset({TARGET, STEPS}), True,
           "each word's contribution to one label's score (Sundararajan et al. 2017)", f"{SCORING}:ig_scores"),
    Method("matrix", "Attention matrix", "attentions", frozenset({LAYER, HEAD}), False,
           "word x word attention of one layer and head", f"{SCORING}:matrix_scores"),
    Method("overview", "Heads overview", "attentions", frozenset(), False,
           "how spread each head's [CLS] attention is, every layer x head", f"{SCORING}:overview_scores"),
)
BY_NAME = {m.name: m for m in METHODS}
NAMES = tuple(BY_NAME)


def get_method(name: str) -> Method:
    """The table row for `name`, or an InvalidInputError that lists the methods."""
    try:
        return BY_NAME[name]
    except (KeyError, TypeError):
        raise InvalidInputError(f"unknown explanation method {name!r}; choose one of: {', '.join(NAMES)}") from None
