"""What every route shares: its contract parsed before the handler runs, the error envelope, CORS and JSON answers.

Each module of chalicelib/handlers/ declares its routes on a Routes (a Chalice Blueprint underneath);
app.py registers them with the authorizer the route's contract names (chalicelib/http/contract.py
`auth`), so a route and its documented credentials cannot drift apart.
"""
import json
from functools import wraps

from chalice import Blueprint, Response

from chalicelib.http import contract, inputs
from chalicelib.platform import config, observability
from chalicelib.rules import plain_text, refusals
from chalicelib.rules.codes import CODES
from chalicelib.rules.errors import FairslotError, InvalidValue

# Any body type reaches the handler, which answers 400 in the error envelope if it is not JSON.
ACCEPTED_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                  "application/octet-stream", "application/xml", "text/html"]


def cors_headers(request):
    headers = request.headers if request else None
    origin = headers.get("origin") if headers else None
    if origin and origin in config.current().cors_origins:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Expose-Headers": "Retry-After, Date"}
    return {}


def json_response(request, status, body, headers=None):
    return Response(
        body=json.dumps(body) if body is not None else "",
        status_code=status,
        headers={**({"Content-Type": "application/json"} if body is not None else {}), **cors_headers(request), **(headers or {})},
    )


def error_response(request, exc):
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    return json_response(request, exc.status, body, headers)


class Routes:
    """One module's routes: `route` declares them, `register` puts them on the app."""

    def __init__(self, import_name):
        self.blueprint = Blueprint(import_name)
        self._declared = []

    @property
    def paths(self):
        return {declared[0] for declared in self._declared}

    def route(self, path, methods=("GET",), status=200, fields=None):
        """A route: the request parsed by its contract, the error envelope for every failure, CORS,
        and a JSON response. `fields`: where the request carries the values the rules name
        (inputs.*_FIELDS), for their refusals to name the client's field."""
        def declare(view):
            self._declared.append((path, tuple(methods), status, fields or {}, view))
            return view

        return declare

    def register(self, app, authorizers):
        """The routes on `app`, each behind the authorizer its contract's `auth` names (none for a
        public route; a partner route also under the partner usage plan: see gateway_keys)."""
        for path, methods, status, fields, view in self._declared:
            op = contract.operation(methods[0], path)
            auth = op.auth if op is not None else contract.PUBLIC
            self.blueprint.route(path, methods=list(methods), authorizer=authorizers.get(auth),
                                 api_key_required=auth == contract.PARTNER_KEY,
                                 content_types=ACCEPTED_TYPES)(self._enveloped(path, status, fields, view))
        app.register_blueprint(self.blueprint)

    def _enveloped(self, path, status, fields, view):
        @wraps(view)
        def handler(*args, **kwargs):
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

    def request(self):
        """The request being served (Chalice sets it for each one; there is always one in a route)."""
        return self.blueprint.current_request

    def body(self):
        """The body, parsed once by the route's contract (a value of chalicelib/rules/submitted.py)."""
        return getattr(self.request(), "fairslot_body")

    def query(self):
        """The query string's declared parameters that are present, parsed by the route's contract."""
        return getattr(self.request(), "fairslot_query")

    def header(self, name):
        headers = self.request().headers
        return headers.get(name) if headers else None

    def client_ip(self):
        return ((self.request().context or {}).get("identity") or {}).get("sourceIp")

    def authorizer_context(self):
        return (self.request().context or {}).get("authorizer") or {}

    def staff_subject(self):
        return str(self.authorizer_context().get("principalId") or "unknown")

    def respond(self, status, body):
        """A JSON answer whose status the handler chooses (a repeated confirmation answers 200)."""
        return json_response(self.request(), status, body)


def _keep_parsed(request, path):
    """The query string and the body parsed by the route's contract before the handler runs
    (a 400 or a 422 naming the field); they ride on the request itself, so they live exactly as long."""
    op = contract.operation(request.method, path)
    if op is None:  # tests/unit/test_contract.py fails for a route without a contract
        query, body = request.query_params or {}, None
    else:
        query, body = op.parse_query(request.query_params), op.parse_body(request.raw_body)
    setattr(request, "fairslot_query", query)
    setattr(request, "fairslot_body", body)
