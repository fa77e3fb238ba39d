"""Which epoch a run ends with, and when it stops (pure: numbers in, decisions out).

After every epoch the loop reports the validation macro-F1 and loss; `EpochChoice` says whether this
epoch is the best so far (keep a copy of its weights) and whether to stop, and at the end which epoch's
weights to serve.

- **Best epoch**: the highest validation macro-F1, the lower validation loss breaking ties (on a few
  dozen validation rows many epochs tie on F1).
- **Stopping** (`patience` > 0): an epoch counts against the run when its macro-F1 is clearly (more than
  one standard error) below the best; `patience` of them with no new best between end the run.
- **Serving**: the best epoch when it beats the last one by more than the validation noise, the last
  one otherwise: on ~100 validation rows an early epoch "wins" by a row or two by chance, and rolling a
  linearly decayed run back to a half-trained epoch lost more than it gained (docs/benchmarks.md).
- **Small validation splits** (fewer than MIN_VALIDATION_ROWS rows, i.e. under ~500 labels): no early
  stop and no roll-back; the run trains its whole schedule and serves the last epoch. On 300-label draws
  (23–34 validation rows, one row = 3–4 points of F1) both decisions followed noise: runs stopped at
  epoch 5 of 10 and rolled back to epoch 2 or 3 scored 0.75–0.79 held out against 0.80–0.83 for the
  full schedule. A rising validation loss did not predict a falling held-out accuracy either (it rose
  from epoch 4 while accuracy kept climbing: the model grows surer of the rows it gets wrong), so it
  stops nothing (docs/benchmarks.md, "Overfitting on small data").
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIN_VALIDATION_ROWS = 50


def clearly_better(best: float, last: float, n: int) -> bool:
    """Is validation score `best` above `last` by more than one standard error (sqrt(p(1-p)/n))?"""
    return best - last > (max(best * (1 - best), 1e-4) / max(1, n)) ** 0.5


@dataclass(frozen=True)
class EpochScore:
    epoch: int
    macro_f1: float
    loss: float


@dataclass(frozen=True)
class Verdict:
    """After one epoch: `best` (keep its weights), `stop` (end the run now), `why` (words for the log)."""

    best: bool
    stop: bool
    why: str = ""


@dataclass
class EpochChoice:
    """Feed it every epoch's validation scores (`after_epoch`); `served()` is the epoch to end with."""

    patience: int  # 0: never stop early
    n_val: int  # validation rows: the noise of a macro-F1 difference
    scores: list[EpochScore] = field(default_factory=list)
    best: EpochScore | None = None
    bad: int = 0

    @property
    def decides(self) -> bool:
        """Whether the validation split is large enough to stop on or roll back by."""
        return self.n_val >= MIN_VALIDATION_ROWS

    def after_epoch(self, epoch: int, macro_f1: float, loss: float) -> Verdict:
        score = EpochScore(epoch, float(macro_f1), float(loss))
        self.scores.append(score)
        if self.best is None or (score.macro_f1, -score.loss) > (self.best.macro_f1, -self.best.loss):
            self.best, self.bad = score, 0
            return Verdict(True, False, "best so far")
        if not clearly_better(self.best.macro_f1, score.macro_f1, self.n_val):
            return Verdict(False, False, "within the noise of the best")
        if not self.decides:
            return Verdict(False, False, f"below the best, but {self.n_val} validation rows are too few to stop on")
        self.bad += 1
        stop = bool(self.patience) and self.bad >= self.patience
        return Verdict(False, stop, f"macro-F1 clearly below the best ({self.bad} of {self.patience})")

    def served(self) -> int:
        """The epoch whose weights the run ends with (0 before any epoch)."""
        if self.best is None:
            return 0
        last = self.scores[-1]
        if (self.decides and self.best.epoch != last.epoch
                and clearly_better(self.best.macro_f1, last.macro_f1, self.n_val)):
            return self.best.epoch
        return last.epoch
