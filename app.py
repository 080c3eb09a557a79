"""fairslot's Chalice app: the routes of chalicelib/handlers/ behind their authorizers, and the scheduled and stream functions."""
from collections.abc import Callable
from typing import Any

from chalice import AuthResponse, Chalice, Rate, Response
from chalice.app import AuthRequest, CloudWatchEvent, DynamoDBEvent, Request

from chalicelib.handlers import partner, public, routing, staff
from chalicelib.http import contract
from chalicelib.http.staff_auth import ADMIN_GROUPS, AGENT_GROUPS, InvalidToken, NotAuthenticated, groups_of, verify_staff_token
from chalicelib.platform import clock, config, gateway_keys, observability
from chalicelib.rules.codes import CODES
from chalicelib.usecases import View, draw_runs, fraud_signals, notify, partner_keys, staff_draws

# The one import-time read of the configuration; everything else reads config.current() when it
# runs. A deployed function must refuse to start without its staff and CORS settings
# (config.check_deployed), and two things are decided now: whether tracing is installed, and the
# bookings stream's ARN that Chalice needs when it registers on_dynamodb_record below.
config.current()
app = Chalice(app_name="fairslot")
observability.install(app)

_ALLOWED_HEADERS = "Content-Type,Authorization,X-Api-Key,X-Hold-Token,X-Booking-Token,X-Request-Token"


@app.middleware("http")
def chalice_errors_in_envelope(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice's own refusals (405 unknown method, 415, its 500) in the §5 error envelope."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = {405: "method_not_allowed", 415: "unsupported_media_type", 400: "malformed_request"}.get(response.status_code,
                                                                                                        "internal_error")
        headers = {k: v for k, v in (response.headers or {}).items() if k.lower() == "allow"}
        error = {"error": {"code": code, "message": CODES[code].en, "details": {}}}
        return routing.json_response(app.current_request, response.status_code, error, headers)
    return response


# --- authorizers: each its own function (infra/resources.yaml) ---------------------------------

# API Gateway keeps a staff authorizer's decision this long per token: the delay before a
# revoked staff token or a removed group stops working (docs/deploy.md, "Staff sign-in").
STAFF_DECISION_CACHE_SECONDS = 60


def _authorize(auth_request: AuthRequest, allowed: frozenset[str]) -> AuthResponse:
    try:
        claims = verify_staff_token(auth_request.token)
    except InvalidToken as exc:
        raise NotAuthenticated() from exc
    if not groups_of(claims) & allowed:
        return AuthResponse(routes=[], principal_id=str(claims.get("sub")))
    return AuthResponse(routes=["*"], principal_id=str(claims["sub"]), context={"groups": ",".join(sorted(groups_of(claims)))})


@app.authorizer(ttl_seconds=STAFF_DECISION_CACHE_SECONDS)
def staff_agent(auth_request: AuthRequest) -> AuthResponse:
    return _authorize(auth_request, AGENT_GROUPS)


@app.authorizer(ttl_seconds=STAFF_DECISION_CACHE_SECONDS)
def staff_admin(auth_request: AuthRequest) -> AuthResponse:
    return _authorize(auth_request, ADMIN_GROUPS)


@app.authorizer(ttl_seconds=0, header="x-api-key")
def partner_key(auth_request: AuthRequest) -> dict[str, Any]:
    """The partner behind x-api-key, looked up by its hash on every request (TTL 0): a revoked
    key is refused at once."""
    found = partner_keys.authenticate(auth_request.token)
    if found is None:
        raise NotAuthenticated()
    allowed = AuthResponse(routes=["*"], principal_id=found.partner_id,
                           context=partner_keys.authorizer_context(found))
    # API Gateway counts and throttles the request against the usage-plan key this names (the
    # API key source is AUTHORIZER, infra/resources.yaml): the partner never sees that key.
    return {**allowed.to_dict(auth_request), "usageIdentifierKey": gateway_keys.usage_key(found.partner_id)}


# --- the routes: each behind the authorizer its contract names ----------------------------------

_AUTHORIZERS = {contract.PARTNER_KEY: partner_key, contract.AGENT: staff_agent, contract.ADMIN: staff_admin}
for _routes in (public.routes, partner.routes, staff.routes):
    _routes.register(app, _AUTHORIZERS)


# --- scheduled and stream functions ------------------------------------------------------------

@app.schedule(Rate(5, unit=Rate.MINUTES))
def run_due_draws(event: CloudWatchEvent) -> list[View] | View:
    """Draws of every draw-mode procedure, each at its policy's draw_interval_seconds; and a
    staff-run draw the API function asks for (only this function may open a sealed seed)."""
    raw: Any = event.to_dict() if isinstance(event, CloudWatchEvent) else event  # tests call .func with the event's dict
    asked = raw.get(staff_draws.STAFF_DRAW)
    if asked is not None:
        return staff_draws.run_for_the_api(asked, clock.now())
    return draw_runs.run_due_draws(clock.now())


@app.on_dynamodb_record(stream_arn=config.current().bookings_stream_arn, batch_size=1, starting_position="TRIM_HORIZON")
def bookings_stream(event: DynamoDBEvent) -> None:
    """Notifications from the bookings stream: a failed send raises, so the record is retried
    (the booking is already stored; nothing on the booking path waits for e-mail)."""
    for record in event:
        notify.booking_changed(record.event_name, record.old_image, record.new_image, record.sequence_number)


@app.schedule(Rate(1, unit=Rate.HOURS))
def send_reminders(event: CloudWatchEvent) -> int:
    """Marks tomorrow's bookings as reminded, once each; the stream sends the e-mails."""
    return notify.remind_tomorrow(clock.now())


@app.schedule(Rate(15, unit=Rate.MINUTES))
def publish_signal_metrics(event: CloudWatchEvent) -> View:
    """Today's identities-behind-one-IP figures (R9) as metrics for their alarm: holds and requests
    only count them, so this run reads the day's counters once."""
    return fraud_signals.publish_metrics(clock.now())


# --- CORS preflight for every path above ----------------------------------------------------

def _preflight(**_params: str) -> Response:
    headers = routing.cors_headers(app.current_request)
    if headers:
        headers.update({
            "Access-Control-Allow-Methods": "GET,POST,PUT,DELETE,OPTIONS",
            "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
        })
    return Response(body="", status_code=204, headers=headers)


for _path in sorted(public.routes.paths | partner.routes.paths | staff.routes.paths):
    app.route(_path, methods=["OPTIONS"], name=f"preflight_{_path}")(_preflight)
