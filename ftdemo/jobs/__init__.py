"""Training runs against the store: one run from its frozen snapshot to a registered model version
(`runner.py`), the child processes that run them for the app (`supervisor.py`) or, on a ZeroGPU Space,
the `spaces.GPU` calls that run them there (`zerogpu.py`), and whether a run is still alive
(`liveness.py`: a heartbeat the running process writes, read by every other process).

The engine (`ftdemo.training`) knows nothing of the database; this package is where a run meets it.
"""
