"""Stamp scoping (setting ADMINISTRATIONS): every stamp ships every profile, so a
stamp accepts events and launches only for its own administrations; any other
gets 422 problem+json naming the administration code, and nothing is enqueued."""

from __future__ import annotations

import dataclasses
import json

import pytest

from shared.launch.handler import create_launch
from shared.problems import ProblemResponse
from shared.settings import SettingsError, read_settings
from tests.launch_fakes import launch_body, make_world, signed_request
from tests.unit import test_webhook_http as webhook
from tests.unit.test_webhook_http import World, encode, event, in_administration, post, problem_of

world = webhook.world  # the webhook tests' fixture: the registered function, in-memory services


def _scope(world: World, *codes: str) -> None:
    world.services.settings = dataclasses.replace(world.services.settings, administrations=codes)


def test_an_event_for_another_administration_is_refused_by_this_stamp(world: World) -> None:
    _scope(world, "SU")
    problem = problem_of(post(encode(event(in_administration("SAS")))), 422)
    assert problem["type"].endswith("/administration-not-served-here")
    assert "SAS" in problem["detail"] and "serves SU" in problem["detail"]
    assert [error["path"] for error in problem["errors"]] == ["data.administration"]
    assert world.bus.sent == []


def test_the_stamps_own_administration_is_accepted(world: World) -> None:
    _scope(world, "SU")
    assert post(encode(event())).status_code == 202
    assert len(world.bus.sent) == 1


def test_without_the_setting_every_profile_is_served(world: World) -> None:
    # The local run serves every administration it has a profile for.
    _scope(world)
    assert post(encode(event(in_administration("SAS")))).status_code == 202


def test_a_launch_for_another_administration_is_refused_by_this_stamp() -> None:
    launches = make_world()
    request = signed_request(launch_body(), launches.orbit_secret)
    result = create_launch(request, launches.ports(administrations=frozenset({"SAS"})))
    assert isinstance(result, ProblemResponse) and result.status == 422
    document = json.loads(result.body())
    assert document["type"].endswith("/administration-not-served-here")
    assert "administration SU" in document["detail"]


def test_the_setting_is_read_as_upper_case_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMINISTRATIONS", " su  SAS ")
    assert read_settings().administrations == ("SU", "SAS")
    monkeypatch.setenv("ADMINISTRATIONS", "SU,SAS")
    with pytest.raises(SettingsError, match="ADMINISTRATIONS"):
        read_settings()
