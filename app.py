"""fairslot HTTP API: thin handlers that parse, call one use case and shape the response."""
import json
from datetime import date
from functools import wraps

from chalice import AuthResponse, Chalice, Response

from chalicelib import booking, catalog, clock, inputs, observability
from chalicelib.auth import ADMIN_GROUPS, AGENT_GROUPS, InvalidToken, groups_of, verify_staff_token
from chalicelib.config import settings
from chalicelib.errors import FairslotError, InvalidField

app = Chalice(app_name="fairslot")
observability.install(app)

_ALLOWED_HEADERS = "Content-Type,Authorization,X-Api-Key,X-Hold-Token,X-Booking-Token,X-Request-Token"
_cors_paths = set()
# Any body type reaches the handler, which answers 400 in the error envelope if it is not JSON.
_ACCEPTED_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                   "application/octet-stream", "application/xml", "text/html"]


# --- plumbing: errors, CORS, authorizers ----------------------------------------------------

def _cors_headers():
    origin = (app.current_request.headers or {}).get("origin") if app.current_request else None
    if origin and origin in settings.cors_origins:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Expose-Headers": "Retry-After"}
    return {}


def _json(status, body, headers=None):
    return Response(
        body=json.dumps(body) if body is not None else "",
        status_code=status,
        headers={**({"Content-Type": "application/json"} if body is not None else {}), **_cors_headers(), **(headers or {})},
    )


def error_response(exc):
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    return _json(exc.status, body, headers)


def route(path, methods=("GET",), status=200, authorizer=None):
    """app.route plus: the error envelope for every failure, CORS, and a JSON response."""

    def register(view):
        @wraps(view)
        def handler(*args, **kwargs):
            try:
                result = view(*args, **kwargs)
                if isinstance(result, Response):
                    return result
                return _json(status, result) if status != 204 else _json(204, None)
            except FairslotError as exc:
                return error_response(exc)
            except Exception:
                observability.logger().exception("unhandled error")
                return _json(500, {"error": {"code": "internal_error", "message": "Something went wrong on our side.", "details": {}}})

        _cors_paths.add(path)
        return app.route(path, methods=list(methods), authorizer=authorizer, content_types=_ACCEPTED_TYPES)(handler)

    return register


def _authorize(auth_request, allowed):
    try:
        claims = verify_staff_token(auth_request.token)
    except InvalidToken:
        return AuthResponse(routes=[], principal_id="anonymous")
    if not groups_of(claims) & allowed:
        return AuthResponse(routes=[], principal_id=str(claims.get("sub")))
    return AuthResponse(routes=["*"], principal_id=str(claims["sub"]), context={"groups": ",".join(sorted(groups_of(claims)))})


@app.authorizer(ttl_seconds=300)
def staff_agent(auth_request):
    return _authorize(auth_request, AGENT_GROUPS)


@app.authorizer(ttl_seconds=300)
def staff_admin(auth_request):
    return _authorize(auth_request, ADMIN_GROUPS)


def _body():
    return inputs.json_body(app.current_request)


def _query():
    return app.current_request.query_params or {}


def _header(name):
    return (app.current_request.headers or {}).get(name)


def _client_ip():
    return ((app.current_request.context or {}).get("identity") or {}).get("sourceIp")


# --- public ---------------------------------------------------------------------------------

@route("/health")
def health():
    return {"status": "ok", "time": clock.to_rfc3339(clock.now())}


@route("/sites")
def list_sites():
    return {"sites": [catalog.site_view(s) for s in catalog.sites()]}


@route("/sites/{site_id}/slots")
def search_slots(site_id):
    q, now = _query(), clock.now()
    if "procedure" not in q:
        raise InvalidField("procedure", "procedure is required.")
    start = inputs.instant(q["from"], "from") if "from" in q else clock.parse_instant(clock.to_rfc3339(now))
    end = inputs.instant(q["to"], "to") if "to" in q else booking.default_search_window(start)
    limit = inputs.integer(q.get("limit", 20), "limit", 1, 100)
    return booking.search(site_id, q["procedure"], start, end, limit, q.get("cursor"), now)


@route("/holds", methods=["POST"], status=201)
def create_hold():
    body, now = _body(), clock.now()
    applicant = inputs.applicant(body, date.fromtimestamp(now))
    return booking.hold(inputs.text(body, "slot_id", max_len=64), applicant, _client_ip(), now)


@route("/holds/{hold_id}", methods=["DELETE"], status=204)
def release_hold(hold_id):
    booking.release(hold_id, _header("x-hold-token"), clock.now())


@route("/bookings", methods=["POST"])
def confirm_booking():
    body = _body()
    view, created = booking.confirm(inputs.text(body, "hold_id", max_len=64), inputs.text(body, "hold_token", max_len=100), clock.now())
    return Response(body=json.dumps(view), status_code=201 if created else 200,
                    headers={"Content-Type": "application/json", **_cors_headers()})


@route("/bookings/{booking_id}")
def get_booking(booking_id):
    return booking.get_booking(booking_id, _header("x-booking-token"))


@route("/bookings/{booking_id}", methods=["DELETE"], status=204)
def cancel_booking(booking_id):
    booking.cancel(booking_id, _header("x-booking-token"), clock.now())


# --- staff ----------------------------------------------------------------------------------

@route("/staff/sites", methods=["POST"], status=201, authorizer=staff_admin)
def create_site():
    body = _body()
    fields = inputs.site(body)
    return catalog.site_view(catalog.create_site(**fields))


@route("/staff/sites/{site_id}/procedures/{procedure_id}/policy", authorizer=staff_agent)
def get_policy(site_id, procedure_id):
    catalog.procedure(site_id, procedure_id)
    return catalog.policy(site_id, procedure_id).as_dict()


@route("/staff/sites/{site_id}/procedures/{procedure_id}/policy", methods=["PUT"], authorizer=staff_admin)
def put_policy(site_id, procedure_id):
    return catalog.update_policy(site_id, procedure_id, _body(), clock.now()).as_dict()


@route("/staff/sites/{site_id}/schedules", methods=["POST"], status=201, authorizer=staff_admin)
def create_schedule(site_id):
    spec = inputs.schedule(_body())
    return {"created": catalog.publish_schedule(site_id, spec["procedure_id"], spec, clock.now())}


@route("/staff/sites/{site_id}/bookings", authorizer=staff_agent)
def day_list(site_id):
    q = _query()
    day = inputs.iso_date(q.get("date", date.fromtimestamp(clock.now()).isoformat()), "date")
    return booking.day_list(site_id, day)


# --- CORS preflight for every path above ----------------------------------------------------

def _preflight(**_params):
    headers = _cors_headers()
    if headers:
        headers.update({
            "Access-Control-Allow-Methods": "GET,POST,PUT,DELETE,OPTIONS",
            "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
        })
    return Response(body="", status_code=204, headers=headers)


for _path in sorted(_cors_paths):
    app.route(_path, methods=["OPTIONS"], name=f"preflight_{_path}")(_preflight)
