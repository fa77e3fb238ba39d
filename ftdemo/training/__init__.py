"""Fine-tuning: config, the training loop, metrics. No database, no UI.

Import what you need from the submodules (``ftdemo.training.engine.train``); this
package stays import-light so ``ftdemo.training.config`` loads without torch.
"""
