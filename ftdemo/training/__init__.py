"""The fine-tuning engine: labelled examples in, a trained classifier, metrics and history out.

No database and no UI (tests/test_architecture.py checks it): splits.py and data.py prepare the
data, loop.py is the training loop (progress leaves through callbacks), setup/metrics/evaluate/
distributed are its parts, and from_file.py / launch.py train from a labelled file. Runs against the
store live in ftdemo.jobs. Import what you need from the submodules; this package stays import-light
so ``ftdemo.training.config`` loads without torch.
"""
