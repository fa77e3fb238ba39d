"""Models loaded from several threads at once leave transformers' process-wide state as it was."""

from __future__ import annotations

import torch
import transformers
from threads import run_together

from ftdemo.models.inference import load_model_dir


def test_concurrent_loads_keep_weight_tying_and_init_functions(tiny_model_dir) -> None:
    # transformers swaps these for no-ops while it builds a model and puts them back without a lock; unguarded,
    # three threads loading at once left tie_weights a no-op for good (models/loading.py)
    tie, normal = transformers.PreTrainedModel.tie_weights, torch.nn.init.normal_
    try:
        def load_ten() -> None:
            for _ in range(10):
                load_model_dir(tiny_model_dir, device="cpu")

        assert run_together(load_ten, [()] * 3) == []
        assert transformers.PreTrainedModel.tie_weights is tie
        assert torch.nn.init.normal_ is normal
    finally:  # a failure here must not break every later test's models
        transformers.PreTrainedModel.tie_weights, torch.nn.init.normal_ = tie, normal
