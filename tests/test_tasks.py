import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.tasks import TaskType, check_labels_for_task, content_hash, parse_label_list, split_label_cell


def test_task_parse_accepts_values_and_explains_choices():
    assert TaskType.parse("multi-label") is TaskType.MULTI_LABEL
    with pytest.raises(InvalidInputError, match="single_label, multi_label, pair"):
        TaskType.parse("regression")


@pytest.mark.parametrize("cell,expected", [
    ("a|b", ["a", "b"]), ("a, b", ["a", "b"]), (["x", " y"], ["x", "y"]), ("", []), (None, []),
    (float("nan"), []), ("solo", ["solo"]), (3, ["3"]),
])
def test_split_label_cell(cell, expected):
    assert split_label_cell(cell) == expected


def test_parse_label_list_dedupes_and_rejects_separators():
    assert parse_label_list("a, b,a,,c") == ["a", "b", "c"]
    with pytest.raises(InvalidInputError, match="may not contain"):
        parse_label_list(["a|b"])


def test_check_labels_orders_and_validates():
    assert check_labels_for_task(TaskType.MULTI_LABEL, ["c", "a"], ["a", "b", "c"]) == ["a", "c"]
    with pytest.raises(InvalidInputError, match="exactly one"):
        check_labels_for_task(TaskType.PAIR, ["a", "b"], ["a", "b"])


def test_content_hash_normalises_whitespace_and_unicode_form():
    assert content_hash(" café ") == content_hash("cafe\u0301")
    assert content_hash("a", "b") != content_hash("a", None)
