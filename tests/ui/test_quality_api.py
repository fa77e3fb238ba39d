"""/agreement, /overlap, /set_overlap and /prune_models through gradio_client, with logins: who may do what."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ftdemo.services import Actor, Services
from ftdemo.settings import Settings, User
from ftdemo.ui.agreement_panel import conflicts_frame, kappa_matrix_html, summary_html

gradio_client = pytest.importorskip("gradio_client")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def app(tmp_path_factory, serve_app) -> Iterator[tuple[str, Services]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("quality-api"), seed_demo=False,
                        users={"ada": User("ada", "pw-a", "admin"), "ann": User("ann", "pw-b", "annotator")})
    services = Services(settings)
    services.datasets.create("q", "single_label", ["pos", "neg"], actor=Actor("ada"))
    ids = [services.annotate.add("q", f"text {i}", actor=Actor("ada")).id for i in range(4)]
    services.annotate.label_many("q", ids, "pos", actor=Actor("ann", "annotator"))
    services.annotate.label_many("q", ids, "pos", actor=Actor("bob", "annotator"))
    with serve_app(services, close_services=True) as url:
        yield url, services


def test_anyone_reads_agreement_only_admins_change_overlap_or_prune(app) -> None:
    url, services = app
    annotator = gradio_client.Client(url, auth=("ann", "pw-b"), verbose=False)
    admin = gradio_client.Client(url, auth=("ada", "pw-a"), verbose=False)
    result = annotator.predict("q", api_name="/agreement")
    assert result["overlap_items"] == 4 and result["cohen_kappa"][0]["items"] == 4
    assert result["overlap"]["share"] == 0.0
    with pytest.raises(gradio_client.exceptions.AppError, match="only an admin"):
        annotator.predict("q", 0.5, 2, "", api_name="/set_overlap")
    with pytest.raises(gradio_client.exceptions.AppError, match="only an admin"):
        annotator.predict("q", 1, "", api_name="/prune_models")
    assert admin.predict("q", 0.5, 3, "", api_name="/set_overlap")["k"] == 3
    assert annotator.predict("q", api_name="/overlap")["share"] == 0.5
    with pytest.raises(gradio_client.exceptions.AppError, match="share must be a number from 0 to 1"):
        admin.predict("q", 1.5, 2, "", api_name="/set_overlap")
    assert admin.predict("q", 1, "", api_name="/prune_models")["deleted"] == []


def test_the_panel_views_escape_names() -> None:
    page = kappa_matrix_html([XSS, "bob"], [[1.0, 0.4], [0.4, 1.0]])
    assert "<img" not in page and "0.40" in page
    assert "—" in kappa_matrix_html(["a", "b"], [[1.0, None], [None, 1.0]])
    summary = summary_html({"overlap_items": 3, "interval": {"level": 0.95},
                            "fleiss_kappa": {"value": None, "items": 0, "raters": 0},
                            "krippendorff_alpha": {"value": 0.5, "items": 3, "low": 0.1, "high": 0.9},
                            "per_label": {XSS: {"krippendorff_alpha": {"value": None, "items": 3}}}})
    assert "<img" not in summary and "0.500 (interval 0.10 to 0.90, 3 items)" in summary
    assert "No example has two or more annotators" in summary_html({"overlap_items": 0})
    assert conflicts_frame([]).columns.tolist() == ["id", "text", "labels now", "agreement"]


def test_prune_from_the_models_tab_reports_what_it_did(services, admin) -> None:
    from ftdemo.errors import InvalidInputError, PermissionDeniedError
    from ftdemo.ui.models_tab import prune_versions

    services.datasets.create("p", "single_label", ["pos", "neg"], actor=admin)
    with pytest.raises(InvalidInputError, match="choose a dataset"):
        prune_versions(services, None, 2, admin)
    with pytest.raises(InvalidInputError, match="whole number"):
        prune_versions(services, "p", 1.5, admin)
    with pytest.raises(PermissionDeniedError):
        prune_versions(services, "p", 2, Actor("ann", "annotator"))
    assert prune_versions(services, "p", 2, admin).message.startswith("nothing to delete")
