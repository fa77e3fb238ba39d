"""The loop's epoch decisions (training/stopping.py): which epoch is kept, when a run stops, what it serves."""

from ftdemo.training.stopping import EpochChoice


def _feed(choice, scores):  # type: ignore[no-untyped-def]
    """Feed (macro_f1, loss) per epoch until a verdict says stop; the verdicts."""
    out = []
    for epoch, (f1, loss) in enumerate(scores, 1):
        out.append(choice.after_epoch(epoch, f1, loss))
        if out[-1].stop:
            break
    return out


def test_rising_validation_loss_stops_the_run_and_the_clearly_best_epoch_is_restored():
    # the run: validation loss lowest at epoch 2 and rising from the third, macro-F1 sliding
    choice = EpochChoice(patience=2, n_val=200)
    verdicts = _feed(choice, [(0.70, 0.60), (0.80, 0.45), (0.78, 0.50), (0.74, 0.62), (0.72, 0.70)])
    assert [v.best for v in verdicts] == [True, True, False, False] and verdicts[-1].stop
    assert "validation loss rising" in verdicts[2].why and "clearly below the best" in verdicts[3].why
    assert choice.served() == 2  # 0.80 against 0.74 on 200 rows: clearly better, so its weights come back


def test_a_new_best_resets_the_count_and_a_lead_within_the_noise_serves_the_last_epoch():
    choice = EpochChoice(patience=2, n_val=30)
    verdicts = _feed(choice, [(0.70, 0.60), (0.72, 0.65), (0.75, 0.70), (0.73, 0.72), (0.74, 0.74)])
    assert [v.best for v in verdicts] == [True, True, True, False, False] and verdicts[-1].stop
    assert choice.served() == 5  # 0.75 against 0.74 on 30 rows is noise: the fully trained weights serve


def test_patience_zero_never_stops_and_loss_is_only_a_tie_break_without_watch_loss():
    choice = EpochChoice(patience=0, n_val=100)
    assert not any(v.stop for v in _feed(choice, [(0.8, 0.3), (0.6, 0.9), (0.6, 1.2), (0.6, 1.5)]))
    assert choice.served() == 1
    quiet = EpochChoice(patience=1, n_val=100, watch_loss=False)
    verdicts = _feed(quiet, [(0.8, 0.5), (0.8, 0.4), (0.8, 0.6), (0.8, 0.9)])
    assert [v.best for v in verdicts] == [True, True, False, False] and not any(v.stop for v in verdicts)
    assert quiet.best.epoch == 2 and quiet.served() == 4
