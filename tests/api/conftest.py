from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from api import tokens
from api.models import Scope


@dataclass
class Tokens:
    read: str
    write: str
    revoked: str


@pytest.fixture
def api_tokens() -> Tokens:
    _, read = tokens.create("reader", Scope.READ)
    _, write = tokens.create("writer", Scope.WRITE)
    revoked_token, revoked = tokens.create("former", Scope.WRITE)
    tokens.revoke([revoked_token], "test", "CLI", "-")
    return Tokens(read=read, write=write, revoked=revoked)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def reader(api_tokens: Tokens) -> Client:
    return Client(**bearer(api_tokens.read))


@pytest.fixture
def writer(api_tokens: Tokens) -> Client:
    return Client(**bearer(api_tokens.write))
