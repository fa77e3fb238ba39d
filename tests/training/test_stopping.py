"""The loop's epoch decisions (training/stopping.py): which epoch is kept, when a run stops, what it serves."""

from ftdemo.training.stopping import MIN_VALIDATION_ROWS, EpochChoice


def _feed(choice, scores):  # type: ignore[no-untyped-def]
    """Feed (macro_f1, loss) per epoch until a verdict says stop; the verdicts."""
    out = []
    for epoch, (f1, loss) in enumerate(scores, 1):
        out.append(choice.after_epoch(epoch, f1, loss))
        if out[-1].stop:
            break
    return out


SLIDING = [(0.70, 0.60), (0.80, 0.45), (0.78, 0.50), (0.74, 0.62), (0.72, 0.70), (0.72, 0.75)]


def test_clear_drops_stop_the_run_and_the_clearly_best_epoch_is_restored():
    choice = EpochChoice(patience=2, n_val=200)
    verdicts = _feed(choice, SLIDING)
    assert [v.best for v in verdicts] == [True, True, False, False, False] and verdicts[-1].stop
    assert "within the noise" in verdicts[2].why and "clearly below the best (2 of 2)" in verdicts[-1].why
    assert choice.served() == 2  # 0.80 against 0.72 on 200 rows: clearly better, so its weights come back


def test_a_small_validation_split_neither_stops_nor_rolls_back():
    # the case: ~30 validation rows, where one row moves macro-F1 by 3 points
    choice = EpochChoice(patience=2, n_val=MIN_VALIDATION_ROWS - 1)
    verdicts = _feed(choice, SLIDING)
    assert len(verdicts) == len(SLIDING) and not any(v.stop for v in verdicts)
    assert "too few to stop on" in verdicts[-1].why
    assert choice.best.epoch == 2 and choice.served() == len(SLIDING)  # the whole schedule, its last epoch


def test_a_new_best_resets_the_count_and_a_lead_within_the_noise_serves_the_last_epoch():
    choice = EpochChoice(patience=2, n_val=60)
    verdicts = _feed(choice, [(0.70, 0.60), (0.72, 0.65), (0.86, 0.70), (0.70, 0.72), (0.86, 0.69), (0.83, 0.74)])
    assert [v.best for v in verdicts] == [True, True, True, False, True, False] and not any(v.stop for v in verdicts)
    assert choice.served() == 6  # 0.86 against 0.83 on 60 rows is within one standard error


def test_patience_zero_never_stops():
    choice = EpochChoice(patience=0, n_val=100)
    assert not any(v.stop for v in _feed(choice, [(0.8, 0.3), (0.6, 0.9), (0.6, 1.2), (0.6, 1.5)]))
    assert choice.served() == 1
