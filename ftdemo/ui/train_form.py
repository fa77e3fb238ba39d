"""The Train tab's settings form: one component per TrainConfig field, its help line taken from the
field's docstring, and the form values turned back into training options.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from ftdemo.errors import InvalidInputError
from ftdemo.training.config import CLASS_WEIGHTS, DEVICES, PSEUDO_RULES, RANGES, TrainConfig, base_model_layers

DEFAULT_MODEL = "default"  # the server's base model: FTDEMO_BASE_MODEL, else the bundled MiniLM
BUNDLED_NAME = "bundled all-MiniLM-L6-v2 (offline)"
HUB_SUGGESTIONS = ("bert-base-uncased", "distilbert-base-uncased")
LEARNING_RATES = ["1e-4", "5e-5", "3e-5", "2e-5", "1e-5"]
MAIN = ("epochs", "learning_rate", "batch_size", "max_length")  # shown; the rest sit under "Advanced"
ADVANCED = ("warmup_ratio", "weight_decay", "class_weights", "early_stopping_patience", "reinit_pooler", "freeze_embeddings",
            "freeze_layers", "layer_lr_decay", "label_smoothing", "seed", "device")
SELF_TRAINING = ("self_training_rounds", "pseudo_label_weight", "pseudo_label_rule", "pseudo_label_threshold",
                 "pseudo_label_share")  # under their own accordion: they use the unlabelled texts
FIELDS = MAIN + ADVANCED + SELF_TRAINING
TITLES = {"learning_rate": "Learning rate", "batch_size": "Batch size", "max_length": "Max length (tokens)",
          "warmup_ratio": "Warmup (share of steps)", "weight_decay": "Weight decay", "class_weights": "Class weights",
          "early_stopping_patience": "Early-stopping patience (epochs)", "freeze_embeddings": "Freeze embeddings",
          "reinit_pooler": "Re-initialise the pooler",
          "freeze_layers": "Freeze lowest layers", "layer_lr_decay": "Layer-wise LR decay", "seed": "Seed",
          "device": "Device", "epochs": "Epochs (0 = automatic)", "label_smoothing": "Label smoothing",
          "self_training_rounds": "Self-training rounds (0 = off)", "pseudo_label_weight": "Pseudo-label weight",
          "pseudo_label_rule": "Which pseudo-labels", "pseudo_label_threshold": "Pseudo-label confidence",
          "pseudo_label_share": "Largest share of the unlabelled texts"}
HELP_CHARS = 150
FREEZE_MAX_UNREAD = 24  # the freeze slider for a Hub id not on this machine: BERT-large's depth


def _one_line(doc: str) -> str:
    """The docstring if short, else its first sentence, else its first clause."""
    text = " ".join(doc.replace("``", "").split())
    if len(text) <= HELP_CHARS:
        return text
    first = re.split(r"(?<=[a-z0-9)])\. ", text, maxsplit=1)[0].rstrip(".") + "."
    if len(first) <= HELP_CHARS:
        return first
    return re.split(r"[:;]", first, maxsplit=1)[0].strip() + "."


@functools.cache
def field_help() -> dict[str, str]:
    """TrainConfig field name → one line of help, from the docstring under each field."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(TrainConfig)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    out = {}
    for node, doc in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(doc, ast.Expr)
                and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)):
            out[node.target.id] = _one_line(doc.value.value)
    return out


def display_model(base_model: str) -> str:
    """A base model as people know it: the bundled checkpoint's long site-packages path becomes its name."""
    try:
        from ftdemo.settings import bundled_model_path

        if base_model and Path(base_model) == Path(bundled_model_path()):
            return BUNDLED_NAME
    except ImportError:  # the bundled checkpoint is optional where FTDEMO_BASE_MODEL names another
        pass
    return base_model or "—"


def defaults() -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def model_choices(configured: str, adapted: Sequence[dict[str, Any]] = ()) -> list[tuple[str, str]]:
    """The server's default first (bundled MiniLM unless FTDEMO_BASE_MODEL says otherwise), then the dataset's
    adapted checkpoints, newest first (`TrainingService.adapted`; the service turns "a0001" into its path),
    then Hub ids."""
    first = BUNDLED_NAME if not configured else f"{configured} (server default)"
    mine = [(f"adapted {a['name']}: {display_model(a.get('base_model') or '')} on {a.get('texts') or 0} texts "
             f"({str(a.get('created_at') or '')[:10]})", a["name"]) for a in adapted]
    return [(first, DEFAULT_MODEL), *mine, *[(hub, hub) for hub in HUB_SUGGESTIONS]]


def freeze_layers_max(choice: str | None, configured: str) -> int:
    """The freeze slider's maximum: the chosen base model's layer count (config.json, read offline),
    FREEZE_MAX_UNREAD for a Hub id not on this machine (training refuses more than the model has).
    `choice` is the base-model box's value; DEFAULT_MODEL means the server's (`configured`, else bundled)."""
    model = str(choice or "").strip()
    if not model or model == DEFAULT_MODEL:
        model = configured
    if not model:
        try:
            from ftdemo.settings import bundled_model_path

            model = bundled_model_path()
        except ImportError:  # the bundled checkpoint is optional where FTDEMO_BASE_MODEL names another
            return FREEZE_MAX_UNREAD
    return min(base_model_layers(model) or FREEZE_MAX_UNREAD, RANGES["freeze_layers"].high)


def freeze_layers_update(choice: str | None, current: Any, configured: str) -> dict[str, Any]:
    """The slider after the base-model box changed: the new model's maximum, the value kept within it."""
    top = freeze_layers_max(choice, configured)
    try:
        value = min(max(int(current or 0), 0), top)
    except (TypeError, ValueError):
        value = 0
    return gr.update(maximum=top, value=value)


def _component(name: str, default: Any, *, layers: int = FREEZE_MAX_UNREAD) -> gr.components.Component:
    title, info = TITLES.get(name, name), field_help().get(name, "")
    common = dict(label=title, info=info, elem_id=f"ftd-train-{name.replace('_', '-')}")
    if name == "epochs":
        return gr.Slider(0, 30, value=default, step=1, **common)
    if name == "learning_rate":
        return gr.Dropdown(LEARNING_RATES, value=f"{default:g}", allow_custom_value=True, **common)
    if name == "batch_size":
        return gr.Dropdown([8, 16, 32, 64, 128], value=default, allow_custom_value=True, **common)
    if name == "max_length":
        return gr.Dropdown([64, 128, 256, 512], value=default, allow_custom_value=True, **common)
    if name in ("warmup_ratio", "weight_decay", "label_smoothing"):
        return gr.Slider(0.0, 0.5 if name == "warmup_ratio" else 0.3, value=default, step=0.01, **common)
    if name == "class_weights":
        return gr.Radio(list(CLASS_WEIGHTS), value=default, **common)
    if name == "early_stopping_patience":
        return gr.Slider(0, 10, value=default, step=1, **common)
    if isinstance(default, bool):  # freeze_embeddings, reinit_pooler
        return gr.Checkbox(value=default, **common)
    if name == "freeze_layers":
        return gr.Slider(0, layers, value=min(default, layers), step=1, **common)
    if name == "layer_lr_decay":
        return gr.Slider(0.5, 1.0, value=default, step=0.05, **common)
    if name == "self_training_rounds":
        return gr.Slider(0, 5, value=default, step=1, **common)
    if name == "pseudo_label_rule":
        return gr.Radio([(f"{rule}: {words}", rule) for rule, words in PSEUDO_RULES.items()], value=default, **common)
    if name in ("pseudo_label_weight", "pseudo_label_share"):
        return gr.Slider(0.05, 1.0, value=default, step=0.05, **common)
    if name == "pseudo_label_threshold":
        return gr.Slider(0.5, 0.99, value=default, step=0.01, **common)
    if name == "seed":
        return gr.Number(value=default, precision=0, **common)
    if name == "device":
        return gr.Dropdown(list(DEVICES), value=default, allow_custom_value=True, **common)
    raise KeyError(name)


def create_form(configured_model: str) -> dict[str, Any]:
    """Lay out the form (call inside a Blocks context); returns name → component, 'base_model' included."""
    d = defaults()
    comps: dict[str, Any] = {"base_model": gr.Dropdown(
        model_choices(configured_model), value=DEFAULT_MODEL, allow_custom_value=True, label="Base model",
        info="the bundled checkpoint works offline; a Hub id (needs internet) or a local directory also works",
        elem_id="ftd-train-base-model")}
    for name in MAIN:
        comps[name] = _component(name, d[name])
    layers = freeze_layers_max(DEFAULT_MODEL, configured_model)
    with gr.Accordion("Advanced", open=False, elem_id="ftd-train-advanced"):
        for name in ADVANCED:
            comps[name] = _component(name, d[name], layers=layers)
    with gr.Accordion("Self-training on the unlabelled texts", open=False, elem_id="ftd-train-self-training"):
        for name in SELF_TRAINING:
            comps[name] = _component(name, d[name])
    return comps


def _number(name: str, value: Any, kind: type) -> int | float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise InvalidInputError(f"{TITLES.get(name, name)} must be a number, got {value!r}") from None
    if kind is int:
        if number != int(number):
            raise InvalidInputError(f"{TITLES.get(name, name)} must be a whole number, got {value!r}")
        return int(number)
    return number


def options_from_form(values: dict[str, Any]) -> dict[str, Any]:
    """Form values → TrainingService options (only fields that differ from TrainConfig's defaults are
    kept, so a run records what was chosen; the service validates ranges with actionable messages)."""
    d = defaults()
    opts: dict[str, Any] = {}
    model = str(values.get("base_model") or "").strip()
    if model and model != DEFAULT_MODEL:
        opts["base_model"] = model
    for name in FIELDS:
        if name not in values or values[name] is None or values[name] == "":
            continue
        value, default = values[name], d[name]
        if isinstance(default, bool):
            value = bool(value)
        elif isinstance(default, (int, float)):
            value = _number(name, value, type(default))
        else:
            value = str(value).strip()
        if value != default:
            opts[name] = value
    return opts
