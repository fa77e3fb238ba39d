"""Which epoch a run ends with, and when it stops (pure: numbers in, decisions out).

After every epoch the loop reports the validation macro-F1 and loss; `EpochChoice` says whether this
epoch is the best so far (keep a copy of its weights) and whether to stop, and at the end which epoch's
weights to serve.

- **Best epoch**: the highest validation macro-F1, the lower validation loss breaking ties (on a few
  dozen validation rows many epochs tie on F1).
- **Stopping** (`patience` > 0): an epoch counts against the run when its macro-F1 is clearly (more than
  one standard error) below the best, or when its validation loss is above the lowest so far while its
  F1 is no new best: the model grows more confident on the training rows and no better on new ones,
  which on small data goes on for many epochs (issue 12: 10 epochs on 237 examples while validation
  loss rose from the third). `patience` such epochs in a row, with no new best between, end the run.
- **Serving**: the best epoch when it beats the last one by more than the validation noise, the last
  one otherwise: on ~100 validation rows an early epoch "wins" by a row or two by chance, and rolling a
  linearly decayed run back to a half-trained epoch lost more than it gained (docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    watch_loss: bool = True  # a rising validation loss counts against the run too
    scores: list[EpochScore] = field(default_factory=list)
    best: EpochScore | None = None
    bad: int = 0

    def after_epoch(self, epoch: int, macro_f1: float, loss: float) -> Verdict:
        score = EpochScore(epoch, float(macro_f1), float(loss))
        lowest = min((s.loss for s in self.scores), default=float("inf"))
        self.scores.append(score)
        if self.best is None or (score.macro_f1, -score.loss) > (self.best.macro_f1, -self.best.loss):
            self.best, self.bad = score, 0
            return Verdict(True, False, "best so far")
        if clearly_better(self.best.macro_f1, score.macro_f1, self.n_val):
            self.bad, why = self.bad + 1, "macro-F1 clearly below the best"
        elif self.watch_loss and score.loss > lowest:
            self.bad, why = self.bad + 1, "validation loss rising, macro-F1 no better"
        else:
            return Verdict(False, False, "within the noise of the best")
        stop = bool(self.patience) and self.bad >= self.patience
        return Verdict(False, stop, f"{why} ({self.bad} of {self.patience})" if self.patience else why)

    def served(self) -> int:
        """The epoch whose weights the run ends with (0 before any epoch)."""
        if self.best is None:
            return 0
        last = self.scores[-1]
        if self.best.epoch != last.epoch and clearly_better(self.best.macro_f1, last.macro_f1, self.n_val):
            return self.best.epoch
        return last.epoch
