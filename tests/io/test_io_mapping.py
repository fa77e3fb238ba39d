import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.io import ColumnMapping, check_mapping, guess_mapping
from ftdemo.tasks import TaskType


@pytest.mark.parametrize(
    "columns, task, expected",
    [
        (["text", "label"], "single_label", ColumnMapping("text", None, "label")),
        (["id", "sentence", "label"], "single_label", ColumnMapping("sentence", None, "label")),
        (["Content", "Category"], "single_label", ColumnMapping("Content", None, "Category")),
        (["text", "labels"], "multi_label", ColumnMapping("text", None, "labels")),
        (["review", "tags"], "multi_label", ColumnMapping("review", None, "tags")),
        (["premise", "hypothesis", "label"], "pair", ColumnMapping("premise", "hypothesis", "label")),
        (["sentence1", "sentence2", "gold_label"], "pair",
         ColumnMapping("sentence1", "sentence2", "gold_label")),
        (["question", "sentence", "label"], "pair", ColumnMapping("question", "sentence", "label")),
        (["text", "text_pair", "labels"], "pair", ColumnMapping("text", "text_pair", "labels")),
        (["text"], "single_label", ColumnMapping("text", None, None)),
        (["foo", "bar"], "single_label", ColumnMapping("foo", None, None)),
        (["label", "body"], "single_label", ColumnMapping("body", None, "label")),
        (["TEXT ", "Label"], "single_label", ColumnMapping("TEXT ", None, "Label")),
    ],
)
def test_guess_mapping(columns, task, expected):
    assert guess_mapping(columns, task) == expected


@pytest.mark.parametrize(
    "columns, task, expected",
    [
        (["column_1", "column_2"], "single_label", ColumnMapping("column_1", None, "column_2")),
        (["column_1"], "single_label", ColumnMapping("column_1", None, None)),
        (["column_1", "column_2", "column_3"], "pair", ColumnMapping("column_1", "column_2", "column_3")),
    ],
)
def test_guess_mapping_for_headerless_files_is_positional(columns, task, expected):
    assert guess_mapping(columns, task) == expected


def test_guess_mapping_needs_columns():
    with pytest.raises(InvalidInputError, match="no columns"):
        guess_mapping([], "single_label")


@pytest.mark.parametrize("mapping, missing", [(ColumnMapping("text", None, "category"), "'text'"),
                                              (ColumnMapping("sentence", None, "label"), "'label'")])
def test_missing_column_is_named_with_the_columns_present(mapping, missing):
    with pytest.raises(InvalidInputError) as err:
        check_mapping(mapping, ["sentence", "category"], TaskType.SINGLE_LABEL)
    message = str(err.value)
    assert missing in message and "columns present: sentence, category" in message


def test_pair_task_requires_text_pair():
    with pytest.raises(InvalidInputError, match="text_pair"):
        check_mapping(ColumnMapping("text", None, "label"), ["text", "label"], TaskType.PAIR)


def test_text_pair_is_rejected_for_single_text_tasks():
    with pytest.raises(InvalidInputError, match="only used by pair"):
        check_mapping(ColumnMapping("a", "b"), ["a", "b"], TaskType.SINGLE_LABEL)


def test_mapping_columns_must_differ():
    with pytest.raises(InvalidInputError, match="different columns"):
        check_mapping(ColumnMapping("a", None, "a"), ["a"], TaskType.SINGLE_LABEL)
