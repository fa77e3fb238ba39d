"""Label-set edits are atomic: a list of add/rename/retire edits applies in one transaction, all or nothing,
and the error names the edit that failed (service and `datasets labels` in the CLI)."""

import pytest

from ftdemo.errors import AlreadyExistsError, InvalidInputError, NotFoundError, PermissionDeniedError
from ftdemo.services.datasets import LabelEdit


@pytest.fixture
def abc(services, admin):
    services.datasets.create("d", "single_label", "a,b,c", actor=admin)
    ex = services.annotate.add("d", "some text", labels=["a"], actor=admin)
    return ex.id


def labels_of(services):
    info = services.datasets.info("d")
    return info.labels, info.retired_labels


def test_several_edits_apply_in_order_in_one_go(services, admin, abc):
    info = services.datasets.edit_labels("d", [LabelEdit("add", "e"), LabelEdit("rename", "a", "alpha"),
                                              LabelEdit("retire", "b"), LabelEdit("add", "a")], actor=admin)
    assert (info.labels, info.retired_labels) == (["alpha", "c", "e", "a"], ["b"])
    assert services.annotate.get("d", abc).labels == ["alpha"]  # the rename carried the history along


@pytest.mark.parametrize("edits,error,named", [
    ([LabelEdit("retire", "a"), LabelEdit("retire", "b")], InvalidInputError, "edit 2 of 2 (retire 'b')"),
    ([LabelEdit("add", "x"), LabelEdit("rename", "a", "b")], AlreadyExistsError, "edit 2 of 2 (rename 'a' to 'b')"),
    ([LabelEdit("rename", "a", "z"), LabelEdit("retire", "a")], NotFoundError, "edit 2 of 2 (retire 'a')"),
    ([LabelEdit("add", "ok"), LabelEdit("add", "no|pe"), LabelEdit("add", "x")], InvalidInputError,
     "edit 2 of 3 (add 'no|pe')"),
    ([LabelEdit("add", "x"), LabelEdit("delete", "a")], InvalidInputError, "edit 2 of 2 (delete 'a')"),
])
def test_a_failing_edit_changes_nothing_and_is_named(services, admin, abc, edits, error, named):
    with pytest.raises(error) as err:
        services.datasets.edit_labels("d", edits, actor=admin)
    assert named in str(err.value) and "no label was changed" in str(err.value)
    assert labels_of(services) == (["a", "b", "c"], [])
    assert services.annotate.get("d", abc).labels == ["a"]


def test_unknown_actions_say_which_there_are(services, admin, abc):
    with pytest.raises(InvalidInputError, match="unknown label edit 'delete'; use add, rename or retire"):
        services.datasets.edit_labels("d", [LabelEdit("delete", "a")], actor=admin)


def test_label_edits_need_an_admin(services, annotator, abc):
    with pytest.raises(PermissionDeniedError):
        services.datasets.edit_labels("d", [LabelEdit("add", "x")], actor=annotator)


def test_cli_label_edits_are_all_or_nothing(services, admin, abc, settings, monkeypatch, capsys):
    from ftdemo.cli import main

    monkeypatch.setenv("FTDEMO_DATA_DIR", str(settings.data_dir))
    code = main(["datasets", "labels", "d", "--retire", "a", "--retire", "b", "--db", settings.db_url])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "edit 2 of 2 (retire 'b') failed: cannot retire 'b'" in err and "no label was changed" in err
    assert labels_of(services) == (["a", "b", "c"], [])
    # edits apply in the order they were typed
    code = main(["datasets", "labels", "d", "--rename", "a=z", "--add", "a", "--retire", "c", "--json",
                 "--db", settings.db_url])
    assert code == 0, capsys.readouterr().err
    assert labels_of(services) == (["z", "b", "a"], ["c"])
