"""One rooted exception hierarchy: every exception the app defines is classified.

A worker decides what to do next by the branch an exception belongs to
(transient → retry later, in doubt → resend the same message, permanent →
dead-letter with a reason). An exception outside the hierarchy escapes every
``except`` of the settlement and burns a Service Bus delivery count, so this
test walks every module of the deployed packages and checks each class.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import functions
import shared
from shared.errors import InDoubtError, IntegrationError, PermanentError, TransientError

BRANCHES = (TransientError, InDoubtError, PermanentError)


def _modules() -> list[str]:
    names = []
    for package in (shared, functions):
        prefix = package.__name__ + "."
        names += [info.name for info in pkgutil.walk_packages(package.__path__, prefix)]
    return names


def _defined_exceptions() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for name in _modules():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == name:
                found.append(value)
    return found


EXCEPTIONS = _defined_exceptions()


def _is_shared_base(error: type[BaseException]) -> bool:
    """A base that only carries fields for its subclasses (e.g. HttpRefusal), which
    are the classes raised and each in one branch."""
    subclasses = [e for e in EXCEPTIONS if e is not error and issubclass(e, error)]
    in_no_branch = not any(issubclass(error, branch) for branch in BRANCHES)
    return in_no_branch and bool(subclasses)


CLASSIFIED = [
    e for e in EXCEPTIONS if e not in (IntegrationError, *BRANCHES) and not _is_shared_base(e)
]


def test_a_shared_base_is_rooted_and_raised_only_through_its_classified_subclasses() -> None:
    for error in EXCEPTIONS:
        if _is_shared_base(error):
            assert issubclass(error, IntegrationError)


def test_the_walk_finds_the_known_exceptions() -> None:
    names = {e.__name__ for e in EXCEPTIONS}
    assert {"InvalidSignature", "FramingError", "RequestRefused", "SettingsError"} <= names


@pytest.mark.parametrize("error", CLASSIFIED, ids=lambda e: f"{e.__module__}.{e.__name__}")
def test_every_exception_is_in_exactly_one_branch(error: type[BaseException]) -> None:
    branches = [branch.__name__ for branch in BRANCHES if issubclass(error, branch)]
    assert len(branches) == 1, f"{error.__name__} is in {branches or 'no branch'}"


def test_permanent_errors_carry_a_reason_an_operator_can_search_for() -> None:
    for error in CLASSIFIED:
        if issubclass(error, PermanentError):
            assert error.reason and " " not in error.reason
