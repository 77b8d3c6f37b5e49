from __future__ import annotations

import pytest

from tests.notifications.messages import BASE_URL


@pytest.fixture(autouse=True)
def _base_url(settings) -> None:
    """The pages' address, as a message links to them."""
    settings.SEAHEALTH_BASE_URL = BASE_URL
