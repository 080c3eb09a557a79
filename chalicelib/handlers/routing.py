"""What every route shares: its contract parsed before the handler runs, the error envelope, CORS and JSON answers.

Each module of chalicelib/handlers/ declares its routes on a Routes (a Chalice Blueprint underneath);
app.py registers them with the authorizer the route's contract names (chalicelib/http/contract.py
`auth`), so a route and its documented credentials cannot drift apart.
"""
import json
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any, TypeVar

from chalice import Blueprint, Chalice, Response
from chalice.app import Request

from chalicelib.http import contract, inputs
from chalicelib.platform import config, observability
from chalicelib.rules import plain_text, refusals
from chalicelib.rules.codes import CODES
from chalicelib.rules.errors import FairslotError, InvalidValue

# Any body type reaches the handler, which answers 400 in the error envelope if it is not JSON.
ACCEPTED_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                  "application/octet-stream", "application/xml", "text/html"]

Headers = dict[str, str | list[str]]  # a response's headers, as chalice.Response takes them
JsonBody = Any  # what json.dumps sends: a use case's View, an error envelope
V = TypeVar("V", bound=Callable[..., Any])  # a route's view function
# A declared route: (path, methods, status, fields, view).
Declared = tuple[str, tuple[str, ...], int, Mapping[str, str], Callable[..., Any]]


def cors_headers(request: Request | None) -> Headers:
    headers = request.headers if request else None
    origin = headers.get("origin") if headers else None
    if origin and origin in config.current().cors_origins:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Expose-Headers": "Retry-After, Date"}
    return {}


def json_response(request: Request | None, status: int, body: JsonBody, headers: Mapping[str, str | list[str]] | None = None) -> Response:
    return Response(
        body=json.dumps(body) if body is not None else "",
        status_code=status,
        headers={**({"Content-Type": "application/json"} if body is not None else {}), **cors_headers(request), **(headers or {})},
    )


def error_response(request: Request | None, exc: FairslotError) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    return json_response(request, exc.status, body, headers)


class Routes:
    """One module's routes: `route` declares them, `register` puts them on the app."""

    def __init__(self, import_name: str) -> None:
        self.blueprint = Blueprint(import_name)
        self._declared: list[Declared] = []

    @property
    def paths(self) -> set[str]:
        return {declared[0] for declared in self._declared}

    def route(self, path: str, methods: Iterable[str] = ("GET",), status: int = 200, fields: Mapping[str, str] | None = None) -> Callable[[V], V]:
        """A route: the request parsed by its contract, the error envelope for every failure, CORS,
        and a JSON response. `fields`: where the request carries the values the rules name
        (inputs.*_FIELDS), for their refusals to name the client's field."""
        def declare(view: V) -> V:
            self._declared.append((path, tuple(methods), status, fields or {}, view))
            return view

        return declare

    def register(self, app: Chalice, authorizers: Mapping[str, Any]) -> None:
        """The routes on `app`, each behind the authorizer its contract's `auth` names (none for a
        public route; a partner route also under the partner usage plan: see gateway_keys)."""
        for path, methods, status, fields, view in self._declared:
            op = contract.operation(methods[0], path)
            auth = op.auth if op is not None else contract.PUBLIC
            self.blueprint.route(path, methods=list(methods), authorizer=authorizers.get(auth),
                                 api_key_required=auth == contract.PARTNER_KEY,
                                 content_types=ACCEPTED_TYPES)(self._enveloped(path, status, fields, view))
        app.register_blueprint(self.blueprint)

    def _enveloped(self, path: str, status: int, fields: Mapping[str, str], view: Callable[..., Any]) -> Callable[..., Response]:
        @wraps(view)
        def handler(*args: Any, **kwargs: str) -> Response:
            request = self.request()
            try:
                if any(len(value) > contract.MAX_PATH_ID or plain_text.refused_character(value) for value in kwargs.values()):
                    raise refusals.NOT_FOUND.exception()
                _keep_parsed(request, path)
                result = view(*args, **kwargs)
                if isinstance(result, Response):
                    return result
                return json_response(request, status, result) if status != 204 else json_response(request, 204, None)
            except InvalidValue as exc:
                return error_response(request, inputs.invalid_field(exc, fields))
            except FairslotError as exc:
                if exc.status == 503:
                    observability.metric("StorageUnavailable")
                return error_response(request, exc)
            except Exception:
                observability.logger().exception("unhandled error")
                return json_response(request, 500, {"error": {"code": "internal_error", "message": CODES["internal_error"].en,
                                                              "details": {}}})

        handler.fields = fields  # type: ignore[attr-defined]  # read by tests/unit/test_field_names.py
        return handler

    # --- what a handler reads of the request being served ---------------------------------

    def request(self) -> Request:
        """The request being served (Chalice sets it for each one; there is always one in a route)."""
        return self.blueprint.current_request

    def body(self) -> Any:
        """The body, parsed once by the route's contract (a value of chalicelib/rules/submitted.py)."""
        return getattr(self.request(), "fairslot_body")  # noqa: B009 (Chalice's Request declares no such attribute: mypy accepts it only by name)

    def query(self) -> dict[str, Any]:
        """The query string's declared parameters that are present, parsed by the route's contract."""
        return getattr(self.request(), "fairslot_query")  # noqa: B009 (Chalice's Request declares no such attribute: mypy accepts it only by name)

    def header(self, name: str) -> str | None:
        headers = self.request().headers
        return headers.get(name) if headers else None

    def client_ip(self) -> str | None:
        return ((self.request().context or {}).get("identity") or {}).get("sourceIp")

    def authorizer_context(self) -> dict[str, Any]:
        return (self.request().context or {}).get("authorizer") or {}

    def staff_subject(self) -> str:
        return str(self.authorizer_context().get("principalId") or "unknown")

    def respond(self, status: int, body: JsonBody) -> Response:
        """A JSON answer whose status the handler chooses (a repeated confirmation answers 200)."""
        return json_response(self.request(), status, body)


def _keep_parsed(request: Request, path: str) -> None:
    """The query string and the body parsed by the route's contract before the handler runs
    (a 400 or a 422 naming the field); they ride on the request itself, so they live exactly as long."""
    query: Mapping[str, Any]
    op = contract.operation(request.method, path)
    if op is None:  # tests/unit/test_contract.py fails for a route without a contract
        query, body = request.query_params or {}, None
    else:
        query, body = op.parse_query(request.query_params), op.parse_body(request.raw_body)
    setattr(request, "fairslot_query", query)  # noqa: B010 (Chalice's Request declares no such attribute: mypy accepts it only by name)
    setattr(request, "fairslot_body", body)  # noqa: B010 (Chalice's Request declares no such attribute: mypy accepts it only by name)
