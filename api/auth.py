"""Who calls the API: `Authorization: Bearer <token>`, and whether its scope lets them."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer

from api import tokens
from api.models import ApiToken, Scope


class TokenAuth(HttpBearer):
    """A live token of `scope` (a write token reads too). None (ninja's 401) for a missing,
    unknown or revoked token; AuthorizationError (403) for a token of too narrow a scope."""

    def __init__(self, scope: Scope) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = tokens.authenticate(token)
        if found is not None and not found.allows(self.scope):
            raise AuthorizationError(
                message=f"this token's scope is {found.scope}: {self.scope} is needed"
            )
        return found


READ = TokenAuth(Scope.READ)
WRITE = TokenAuth(Scope.WRITE)
