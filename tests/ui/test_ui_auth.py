"""Who acts: login (FTDEMO_USERS) or a typed name."""

from __future__ import annotations

import gradio as gr
import pytest

from ftdemo.errors import PermissionDeniedError
from ftdemo.ui.auth import DEFAULT_NAME, actor_for, clean_name, make_auth


def test_no_users_means_no_auth(settings) -> None:
    assert make_auth(settings) is None


def test_auth_checks_name_and_password(auth_settings) -> None:
    check = make_auth(auth_settings)
    assert check("ada", "pw-a") and check("ann", "pw-b")
    assert not check("ada", "pw-b")
    assert not check("eve", "pw-a")
    assert not check("ada", "")


def test_with_auth_the_login_decides_name_and_role(auth_settings) -> None:
    actor = actor_for(auth_settings, gr.Request(username="ann"), "somebody-else")
    assert (actor.name, actor.role, actor.is_admin) == ("ann", "annotator", False)
    assert actor_for(auth_settings, gr.Request(username="ada"), None).is_admin


def test_with_auth_an_unknown_or_missing_user_is_refused(auth_settings) -> None:
    with pytest.raises(PermissionDeniedError, match="requires a login"):
        actor_for(auth_settings, gr.Request(username="eve"), "eve")
    with pytest.raises(PermissionDeniedError):
        actor_for(auth_settings, None, "ada")


def test_without_auth_the_typed_name_is_a_local_admin(settings) -> None:
    actor = actor_for(settings, gr.Request(), "  Mia   Lee ")
    assert (actor.name, actor.is_admin) == ("Mia Lee", True)
    assert actor_for(settings, None, "").name == DEFAULT_NAME


def test_clean_name_trims_and_caps() -> None:
    assert clean_name(None) == DEFAULT_NAME
    assert clean_name("x" * 300) == "x" * 100
