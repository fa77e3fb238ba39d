from ftdemo.services.demo import DEMOS, seed_demo_datasets


def test_demo_datasets_cover_every_task_and_import_cleanly(services):
    sv = services
    assert seed_demo_datasets(sv) == [d.name for d in DEMOS]
    infos = {i.name: i for i in sv.datasets.list()}
    assert {i.task for i in infos.values()} == {"single_label", "multi_label", "pair"}
    senti = sv.datasets.stats("sentiment")
    assert senti.labelled >= 150 and min(senti.label_counts.values()) >= 40
    assert any("\u4e00" <= ch <= "\u9fff" for v in sv.annotate.search("sentiment", limit=1000)[0] for ch in v.text)
    assert sv.datasets.stats("nli").labelled >= 90 and sv.datasets.stats("topics").labelled >= 90
    multi = [x for x in sv.annotate.snapshot("topics") if len(x.labels) > 1]
    assert len(multi) >= 20
    for name in infos:  # each demo leaves something to label
        assert sv.datasets.stats(name).unlabelled > 0
    assert seed_demo_datasets(sv) == []  # only on an empty database
