"""The services both faces of the app (Gradio UI and CLI) call. Nothing here imports gradio."""

from __future__ import annotations

from ftdemo.services.agreement import AgreementService
from ftdemo.services.annotate import AnnotationService, ExampleView
from ftdemo.services.assist import AssistService
from ftdemo.services.base import Actor, require_admin
from ftdemo.services.datasets import DatasetInfo, DatasetService, Stats
from ftdemo.services.models import ModelService
from ftdemo.services.predict import PredictService
from ftdemo.services.queue import QueueService
from ftdemo.services.retrain import RetrainService
from ftdemo.services.review import ReviewService
from ftdemo.services.training import TrainingService
from ftdemo.services.transfer import ImportReport, TransferService
from ftdemo.settings import Settings
from ftdemo.store import Database
from ftdemo.store.filesystem import check_database_url

__all__ = ["Actor", "DatasetInfo", "ExampleView", "ImportReport", "Services", "Stats", "require_admin"]


class Services:
    """One per process: opens the database (migrating it) and wires the services together."""

    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings = settings
        if db is None:
            check_database_url(settings.db_url, allow_unsafe=settings.allow_unsafe_fs)
        self.db = db or Database(settings.db_url)
        self.datasets = DatasetService(self.db, settings)
        self.models = ModelService(self.db, settings)
        self.predict = PredictService(self.db, settings, self.models)
        self.assist = AssistService(self.db, settings, self.models, self.predict)
        self.queue = QueueService(self.db, settings, self.predict, self.assist)
        self.annotate = AnnotationService(self.db, settings, self.queue)
        self.agreement = AgreementService(self.db, settings)  # overlap setting and agreement measures
        self.transfer = TransferService(self.db, settings)
        self.training = TrainingService(self.db, settings, self.annotate)
        self.retrain = RetrainService(self.db, settings, self.training)
        self.review = ReviewService(self.db, settings, self.assist, self.annotate)
        self.annotate.listeners.append(self.retrain.after_labels)  # fine-tune every N new labels

    def registry_cleanup(self) -> list[str]:
        """At start: remove temp dirs left by a save that was killed midway (never listed, never loaded),
        and register complete versions that have no record yet (see ModelService.reconcile)."""
        from ftdemo.models.registry import Registry

        Registry(self.settings.models_dir, clean=True)
        return self.models.reconcile()

    def close(self) -> None:
        self.assist.close()
        self.predict.close()
        self.training.close()
        self.db.dispose()
