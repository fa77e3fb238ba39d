"""The documented prediction API (for gradio_client and scripts): /predict and /explain.

    from gradio_client import Client
    c = Client("http://127.0.0.1:7860/", auth=("alice", "pw"))   # auth only when FTDEMO_USERS is set
    c.predict("reviews", "great phone, awful battery", api_name="/predict")
    # -> {"label": "neg", "labels": ["neg"], "probabilities": {"pos": 0.31, "neg": 0.69},
    #     "model_version": "v0003", "truncated": False, "notice": None}
    c.predict("reviews", "great phone", "", "ig", -1, -1, "pos", 64, api_name="/explain")
    # -> {"method": "ig", "target_label": "pos", "words": [{"text": "great", "score": 0.41, "segment": 0, ...}],
    #     "completeness_error": 0.012, ...}

Layers and heads are 0-based here (-1 = the last layer / the mean of all heads); pair datasets take the
second text as text_pair. `version` ("" = the active one) picks another model version. Errors a caller
can fix come back as gradio_client AppError with the service's message.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ftdemo.explain.methods import MAX_IG_STEPS, METHODS
from ftdemo.ui.api import endpoint, string, whole_number
from ftdemo.ui.context import EXPLAIN_EVENTS, UIContext

PREDICTION_KEYS = ("label", "labels", "probabilities", "model_version", "truncated", "notice")
MAX_INDEX = 1023  # layers and heads: a bound for the argument; the model checks its own sizes


def register_predict_api(ctx: UIContext) -> None:
    services = ctx.services

    def predict(dataset: str, text: str, text_pair: str = "", version: str = "") -> dict[str, Any]:
        """Classify one text (pair datasets: text + text_pair) with the active or a chosen model version.

        Returns label, labels (the predicted set; multi-label may be empty), probabilities per label,
        model_version, truncated and notice (set when the input was cut to the model's maximum length)."""
        dataset, text, version = string(dataset, "dataset"), string(text, "text"), string(version, "version", optional=True)
        text_pair = string(text_pair, "text_pair", optional=True)
        result = services.predict.predict(dataset, text, text_pair or None, version=version or None)
        return {key: result[key] for key in PREDICTION_KEYS}

    def explain(dataset: str, text: str, text_pair: str = "", method: str = "cls", layer: int = -1, head: int = -1,
                target_label: str = "", ig_steps: int = 32, version: str = "",
                request: gr.Request = None) -> dict[str, Any]:  # type: ignore[assignment]
        """Word-level explanation of one prediction.

        method: METHODS_DOC. layer: 0-based, -1 = last. head: 0-based, -1 = mean of heads.
        target_label: the label to explain with ig ("" = the predicted one). Returns method, target_label,
        words [{text, score, segment, special, start, end}], the prediction, and completeness_error for ig.
        ig_steps: at most MAX_STEPS, and fewer for long texts (steps × tokens is bounded; the error says how
        many); a user runs a couple of explanations at once."""
        dataset, text, version = string(dataset, "dataset"), string(text, "text"), string(version, "version", optional=True)
        text_pair, method = string(text_pair, "text_pair", optional=True), string(method, "method")
        target_label = string(target_label, "target_label", optional=True)
        layer, head = whole_number(layer, "layer", -1, MAX_INDEX), whole_number(head, "head", -1, MAX_INDEX)
        return services.predict.explain(
            dataset, text, text_pair or None, method=method, version=version or None, layer=layer,
            head=None if head < 0 else head, target_label=target_label or None,
            ig_steps=whole_number(ig_steps, "ig_steps", 1, MAX_IG_STEPS), caller=ctx.caller(request))

    # the API page lists the methods from the one table, so a new method is documented where it is offered
    explain.__doc__ = (explain.__doc__ or "").replace(
        "METHODS_DOC", "; ".join(f"{m.name} ({m.summary})" for m in METHODS)).replace("MAX_STEPS", str(MAX_IG_STEPS))
    gr.api(endpoint(ctx.anyone(predict)), api_name="predict")
    gr.api(endpoint(ctx.anyone(explain)), api_name="explain", **EXPLAIN_EVENTS)
