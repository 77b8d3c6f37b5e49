"""/api/v1/: the API object, its routers, and the one shape of its errors.

Every error is JSON `{"error": "<why>"}`; a 400 also lists each bad field as
`{"field", "in", "message"}`. 401 and 403 carry RFC 6750's WWW-Authenticate.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from api import dependencies, incidents, maintenance

REALM = 'Bearer realm="seahealth"'

api = NinjaAPI(
    title="seahealth",
    version="1",
    description="The dependencies' state, and what a token may change of it.",
    urls_namespace="api-v1",
    # The schema only: ninja's docs page loads Swagger UI from a CDN, which the pages never do.
    docs_url=None,
)
api.add_router("/dependencies", dependencies.router)
api.add_router("/incidents", incidents.router)
api.add_router("/maintenance", maintenance.router)


def _error(request: HttpRequest, status: int, reason: str, **extra: object) -> HttpResponse:
    return api.create_response(request, {"error": reason, **extra}, status=status)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    presented = "Authorization" in request.headers
    response = _error(
        request,
        401,
        "the token is unknown or revoked"
        if presented
        else "no token: send Authorization: Bearer <token>",
    )
    response["WWW-Authenticate"] = f'{REALM}, error="invalid_token"' if presented else REALM
    return response


@api.exception_handler(AuthorizationError)
def forbidden(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    response = _error(request, 403, exc.message)
    response["WWW-Authenticate"] = f'{REALM}, error="insufficient_scope", scope="write"'
    return response


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = [_field(error) for error in exc.errors]
    reasons = "; ".join(f"{field['field']}: {field['message']}" for field in fields)
    return _error(request, 400, f"bad request: {reasons}", fields=fields)


def _field(error: dict) -> dict[str, str]:
    # ninja's loc is ("body", "payload", "reason") or ("path", "name"): where, then which.
    location, *rest = error.get("loc") or ("request",)
    names = [str(part) for part in rest if part != "payload"]
    return {"field": ".".join(names) or location, "in": location, "message": error["msg"]}


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = exc.message
    if message.startswith("Cannot parse request body"):  # ninja's words for any parse failure
        message = "the body is not JSON: send Content-Type: application/json and a JSON object"
    return _error(request, exc.status_code, message)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, str(exc) or "not found")
