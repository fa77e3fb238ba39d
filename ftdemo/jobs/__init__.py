"""Training runs against the store: one run from its frozen snapshot to a registered model version
(`runner.py`), and the child processes that run them for the app (`supervisor.py`).

The engine (`ftdemo.training`) knows nothing of the database; this package is where a run meets it.
"""
