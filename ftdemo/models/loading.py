"""One lock around every transformers `from_pretrained` of a model in this process.

While it builds a model, transformers 5 swaps process-wide functions for no-ops and puts them back
afterwards (`initialization.no_tie_weights` replaces `PreTrainedModel.tie_weights`; `guard_torch_init_functions`
the `torch.nn.init` functions), saving and restoring them without a lock. Two threads loading at once (the
predictor's warm-up, the embeddings' worker, a training run in a thread) can restore each other's no-op,
after which `tie_weights` stays a no-op for the life of the process: every later model with tied weights (a
masked-LM head's decoder) loads with those weights left on the meta device ("Cannot copy out of meta
tensor"). Loads take seconds and are rare, so they are serialised (tests/models/test_loading.py shows the
race and the fix).
"""

from __future__ import annotations

import threading

FROM_PRETRAINED = threading.RLock()
