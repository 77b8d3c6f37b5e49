from __future__ import annotations

import pytest
from django.urls import get_resolver


@pytest.fixture(autouse=True)
def _urls_imported_before_time_is_frozen() -> None:
    """A page asked for first under freeze_time would import the URLconf then, and with it
    the API's schemas: pydantic cannot build a schema on freezegun's datetime class."""
    get_resolver().url_patterns  # noqa: B018 - imported for its effect
