"""Demo datasets from the samples in data/, created on first start so a newcomer sees a working app."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ftdemo.errors import AlreadyExistsError
from ftdemo.services import Actor, Services
from ftdemo.settings import SAMPLES_DIR

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Demo:
    name: str
    task: str
    labels: tuple[str, ...]
    file: str
    description: str


DEMOS = (
    Demo("sentiment", "single_label", ("positive", "negative", "neutral"), "sentiment.csv",
         "3-class sentiment of short reviews (English and Chinese)."),
    Demo("nli", "pair", ("entailment", "neutral", "contradiction"), "nli.jsonl",
         "Sentence pairs: does the premise entail, contradict or leave open the hypothesis?"),
    Demo("topics", "multi_label",
         ("sports", "politics", "technology", "business", "health", "science", "entertainment"), "topics.jsonl",
         "News-style headlines, one or more topics each."),
)


def seed_demo_datasets(services: Services, samples_dir: Path = SAMPLES_DIR) -> list[str]:
    """Create the demo datasets if the database has no dataset yet; returns the names created."""
    if services.datasets.names():
        return []
    actor = Actor("demo", "admin")
    created = []
    for demo in DEMOS:
        path = samples_dir / demo.file
        if not path.exists():
            log.warning("sample file %s is missing; skipping the %r demo dataset", path, demo.name)
            continue
        try:
            services.datasets.create(demo.name, demo.task, list(demo.labels), actor=actor, description=demo.description)
        except AlreadyExistsError:  # another process seeded at the same moment
            continue
        report = services.transfer.import_file(demo.name, path, actor=actor)
        if report.errors:
            log.warning("demo %r: %d sample rows were not imported: %s", demo.name, len(report.errors), report.errors[:3])
        created.append(demo.name)
    return created
