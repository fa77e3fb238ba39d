"""plan_import: every bad-input kind is reported by its row number; nothing is half-imported."""

import json

import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.io import ColumnMapping, ImportPlan, plan_import, read_rows
from ftdemo.tasks import content_hash

LABELS = ["neg", "pos"]
TAGS = ["a", "b", "c"]


def plan_csv(write, body, task="single_label", labels=LABELS, **kwargs) -> ImportPlan:
    return plan_import(write("in.csv", body), task, labels, **kwargs)


def errors(plan):
    return {issue["row"]: issue["reason"] for issue in plan.errors}


def test_valid_row_becomes_a_candidate(write):
    plan = plan_csv(write, "id,text,label,note\n7,hello,pos,from x\n")
    (cand,) = plan.valid
    assert (cand.row, cand.text, cand.text_pair, cand.labels) == (1, "hello", None, ["pos"])
    assert cand.content_hash == content_hash("hello") and cand.source == "in.csv"
    assert cand.metadata == {"id": "7", "note": "from x"}
    assert not (plan.errors or plan.duplicates)


@pytest.mark.parametrize("cell", ["", "   ", '""'])
def test_empty_text_is_an_error_by_row(write, cell):
    plan = plan_csv(write, f"text,label\nok,pos\n{cell},neg\nfine,neg\n")
    assert errors(plan) == {2: "empty text (column 'text')"}
    assert [c.row for c in plan.valid] == [1, 3]


def test_missing_text_key_in_jsonl_is_an_empty_text(write):
    plan = plan_import(write("in.jsonl", '{"text": "a"}\n{"label": "pos"}\n'), "single_label", LABELS)
    assert errors(plan) == {2: "empty text (column 'text')"}


def test_empty_text_pair_is_an_error(write):
    plan = plan_csv(write, "premise,hypothesis,label\na,b,pos\nc,,neg\n", task="pair")
    assert errors(plan) == {2: "empty text_pair (column 'hypothesis')"}


def test_non_text_value_is_an_error(write):
    plan = plan_import(write("in.jsonl", '{"text": ["a"]}\n{"text": 42}\n'), "single_label", LABELS)
    assert "must be plain text, got list" in errors(plan)[1]
    assert plan.valid[0].text == "42"


def test_unknown_label_is_an_error_naming_the_known_labels(write):
    plan = plan_csv(write, "text,label\na,pos\nb,posi\n")
    assert errors(plan) == {2: "label 'posi' is not in this dataset's labels: neg, pos"}


@pytest.mark.parametrize("task", ["single_label", "pair"])
def test_single_label_tasks_take_one_label(write, task):
    header, row = ("text,label", "x") if task == "single_label" else ("text,text_pair,label", "x,y")
    plan = plan_csv(write, f"{header}\n{row},neg|pos\n", task=task)
    assert "exactly one label, got 2" in errors(plan)[1]


@pytest.mark.parametrize("task", ["single_label", "multi_label", "pair"])
def test_empty_label_cell_means_unlabelled(write, task):
    header, row = ("text,label", "x") if task != "pair" else ("text,text_pair,label", "x,y")
    plan = plan_csv(write, f"{header}\n{row},\n", task=task)
    assert plan.valid[0].labels == [] and plan.summary()["unlabelled"] == 1


def test_no_label_column_imports_an_unlabelled_pool(write):
    plan = plan_csv(write, "text\na\nb\n")
    assert plan.mapping.label is None and [c.labels for c in plan.valid] == [[], []]


@pytest.mark.parametrize("cell", ['"c|a"', '"c,a"', '" a | c "'])
def test_multi_label_csv_cells_in_dataset_order(write, cell):
    plan = plan_csv(write, f"text,labels\nx,{cell}\n", task="multi_label", labels=TAGS)
    assert plan.valid[0].labels == ["a", "c"]


def test_multi_label_lists_in_jsonl(write):
    lines = [{"text": "x", "labels": ["b", "a"]}, {"text": "y", "labels": []}, {"text": "z", "labels": ["q"]}]
    path = write("in.jsonl", "\n".join(json.dumps(line) for line in lines))
    plan = plan_import(path, "multi_label", TAGS)
    assert [c.labels for c in plan.valid] == [["a", "b"], []]
    assert errors(plan) == {3: "label 'q' is not in this dataset's labels: a, b, c"}


def test_multi_label_lists_in_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["x", "y"], "labels": [["c"], None]}), tmp_path / "in.parquet")
    plan = plan_import(tmp_path / "in.parquet", "multi_label", TAGS)
    assert [c.labels for c in plan.valid] == [["c"], []]


def test_int_labels_are_read_as_strings(write):
    plan = plan_import(write("in.jsonl", '{"text": "x", "label": 1}\n{"text": "y", "label": 0}\n'),
                       "single_label", ["0", "1"])
    assert [c.labels for c in plan.valid] == [["1"], ["0"]]


@pytest.mark.parametrize("label_map", [{0: "neg", 1: "pos"}, {"0": "neg", "1": "pos"}])
def test_label_map_turns_raw_values_into_names(write, label_map):
    plan = plan_csv(write, "sentence,label\nx,1\ny,0\nz,2\n", label_map=label_map)
    assert [c.labels for c in plan.valid] == [["pos"], ["neg"]]
    assert errors(plan) == {3: "label '2' is not in this dataset's labels: neg, pos"}


def test_labels_none_accepts_any_well_formed_label(write):
    plan = plan_csv(write, f"text,label\na,new\nb,{'x' * 70}\n", labels=None)
    assert plan.valid[0].labels == ["new"]
    assert "longer than 64" in errors(plan)[2]


@pytest.mark.parametrize("column, limit", [("text", 10), ("text_pair", 10)])
def test_over_long_texts_are_errors(write, column, limit):
    long_row = "abcdefghijk,b" if column == "text" else "a,abcdefghijk"
    plan = plan_csv(write, f"text,text_pair,label\nabcdefghij,b,pos\n{long_row},neg\n", task="pair",
                    max_text_chars=limit)
    assert [c.row for c in plan.valid] == [1]  # exactly at the limit is fine
    assert errors(plan) == {2: f"{column} is 11 characters; the limit is 10 (shorten or split it)"}


def test_duplicates_within_the_file(write):
    plan = plan_csv(write, "text,label\nhello,pos\nbye,neg\nhello,pos\n  hello ,neg\n")
    assert [c.row for c in plan.valid] == [1, 2]
    assert plan.duplicates == [
        {"row": 3, "reason": "same text as row 1"},
        {"row": 4, "reason": "same text as row 1 (labelled pos there, neg here)"},
    ]


def test_unicode_normal_forms_are_duplicates(write):
    plan = plan_csv(write, "text\ncaf\u00e9\ncafe\u0301\n", labels=None)
    assert [d["row"] for d in plan.duplicates] == [2]


def test_pair_duplicates_need_both_texts_equal(write):
    plan = plan_csv(write, "text,text_pair,label\na,b,pos\na,c,pos\na,b,neg\n", task="pair")
    assert [c.row for c in plan.valid] == [1, 2] and [d["row"] for d in plan.duplicates] == [3]


def test_duplicates_of_existing_examples(write):
    plan = plan_csv(write, "text,label\nold,pos\nnew,neg\n", existing_hashes={content_hash("old")})
    assert plan.duplicates == [{"row": 1, "reason": "the same text is already in the dataset"}]
    assert [c.text for c in plan.valid] == ["new"]


def test_existing_hashes_may_be_any_iterable(write):
    plan = plan_csv(write, "text,label\nold,pos\n", existing_hashes=[content_hash("old")])
    assert len(plan.duplicates) == 1


def test_a_rejected_row_does_not_hide_a_later_valid_copy(write):
    plan = plan_csv(write, "text,label\nsame,bad\nsame,pos\n")
    assert list(errors(plan)) == [1] and [c.row for c in plan.valid] == [2] and not plan.duplicates


def test_malformed_rows_and_row_errors_are_merged_in_row_order(write):
    body = "text,label\nok,pos\n,neg\nthree,fields,here\ncaf\xe9,pos\nfine,neg\n".encode("latin-1")
    plan = plan_import(write("in.csv", body), "single_label", LABELS)
    assert [e["row"] for e in plan.errors] == [2, 3, 4]
    assert [c.row for c in plan.valid] == [1, 5]
    assert plan.summary()["rows"] == 5


def test_malformed_jsonl_rows_are_errors_in_the_plan(write):
    path = write("in.jsonl", '{"text": "a", "label": "pos"}\n[1]\n{"text": \n{"text": "b", "label": "neg"}\n')
    plan = plan_import(path, "single_label", LABELS)
    assert [e["row"] for e in plan.errors] == [2, 3] and [c.row for c in plan.valid] == [1, 4]


def test_missing_mapped_column_raises_with_the_columns_present(write):
    message = r"label column 'label' is not in the file; columns present: text, y"
    with pytest.raises(InvalidInputError, match=message):
        plan_csv(write, "text,y\na,b\n", mapping=ColumnMapping("text", None, "label"))


def test_mapping_may_be_a_dict(write):
    plan = plan_csv(write, "a,b\nhello,pos\n", mapping={"text": "a", "label": "b"})
    assert plan.valid[0].labels == ["pos"] and plan.valid[0].metadata == {}


def test_unknown_mapping_key(write):
    with pytest.raises(InvalidInputError, match="unknown mapping key 'labels'"):
        plan_csv(write, "a,b\nhello,pos\n", mapping={"text": "a", "labels": "b"})


def test_plan_accepts_an_already_read_table(write):
    path = write("in.csv", "text,label\na,pos\n")
    assert plan_import(read_rows(path), "single_label", LABELS).to_dict() == \
        plan_import(path, "single_label", LABELS).to_dict()


def test_header_false_passes_through(write):
    plan = plan_import(write("in.tsv", "hello\tpos\n"), "single_label", LABELS, header=False)
    assert plan.valid[0].text == "hello" and plan.valid[0].labels == ["pos"]


def test_summary_and_to_dict(write):
    plan = plan_csv(write, "text,label\na,pos\nb,\nc,pos\na,neg\n,pos\n")
    assert plan.summary() == {"source": "in.csv", "rows": 5, "valid": 3, "labelled": 2, "unlabelled": 1,
                              "duplicates": 1, "errors": 1, "label_counts": {"pos": 2}}
    data = plan.to_dict()
    assert data["task"] == "single_label"
    assert data["mapping"] == {"text": "text", "text_pair": None, "label": "label"}
    assert [c["row"] for c in data["candidates"]] == [1, 2, 3]
    assert data["error_rows"] == [{"row": 5, "reason": "empty text (column 'text')"}]
    json.dumps(data)  # plain data, ready for the UI


def test_describe_mentions_counts_and_first_problems(write):
    text = plan_csv(write, "text,label\n,pos\n,pos\n,pos\n,pos\n").describe(max_issues=2)
    assert text.startswith("in.csv: 4 rows; 0 ready to import") and "row 1: empty text" in text
    assert text.endswith("; …")


def test_unknown_task_type(write):
    with pytest.raises(InvalidInputError, match="unknown task type"):
        plan_csv(write, "text\na\n", task="regression")


def test_object_label_cell_is_an_error(write):
    plan = plan_import(write("in.jsonl", '{"text": "a", "label": {"x": 1}}\n'), "single_label", LABELS)
    assert "text or a list" in errors(plan)[1]


def test_header_only_csv_gives_an_empty_plan(write):
    plan = plan_csv(write, "text,label\n")
    assert plan.summary()["rows"] == 0 and plan.valid == [] and not (plan.errors or plan.duplicates)


def test_parquet_int_labels_with_a_label_map(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"sentence": ["x", "y"], "label": [1, 0]}), tmp_path / "in.parquet")
    plan = plan_import(tmp_path / "in.parquet", "single_label", LABELS, label_map={0: "neg", 1: "pos"})
    assert [c.labels for c in plan.valid] == [["pos"], ["neg"]]
