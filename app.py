"""fairslot HTTP API: thin handlers that parse, call one use case and shape the response."""
import json
from functools import wraps

from chalice import AuthResponse, Chalice, Rate, Response

from chalicelib.http import contract, inputs
from chalicelib.http.staff_auth import ADMIN_GROUPS, AGENT_GROUPS, InvalidToken, NotAuthenticated, groups_of, verify_staff_token
from chalicelib.platform import clock, config, gateway_keys, observability
from chalicelib.rules import refusals
from chalicelib.rules.codes import CODES
from chalicelib.rules.errors import FairslotError, InvalidValue
from chalicelib.usecases import audit_trail, booking, draw_requests, draw_runs, fraud_signals, notify, partner_keys, site_catalog, staff, transparency

# The one import-time read of the configuration; everything else reads config.current() when it
# runs. A deployed function must refuse to start without its staff and CORS settings
# (config.check_deployed), and two things are decided now: whether tracing is installed, and the
# bookings stream's ARN that Chalice needs when it registers on_dynamodb_record below.
config.current()
app = Chalice(app_name="fairslot")
observability.install(app)

_ALLOWED_HEADERS = "Content-Type,Authorization,X-Api-Key,X-Hold-Token,X-Booking-Token,X-Request-Token"
_cors_paths: set[str] = set()
# Any body type reaches the handler, which answers 400 in the error envelope if it is not JSON.
_ACCEPTED_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                   "application/octet-stream", "application/xml", "text/html"]


# --- plumbing: errors, CORS, authorizers ----------------------------------------------------

def _cors_headers():
    headers = app.current_request.headers if app.current_request else None
    origin = headers.get("origin") if headers else None
    if origin and origin in config.current().cors_origins:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Expose-Headers": "Retry-After, Date"}
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


def route(path, methods=("GET",), status=200, authorizer=None, api_key_required=False, fields=None):
    """app.route plus: the request checked against its contract (chalicelib/http/contract.py), the error
    envelope for every failure, CORS, and a JSON response. `fields`: where the request carries the
    values the rules name (inputs.*_FIELDS), for their refusals to name the client's field."""

    def register(view):
        @wraps(view)
        def handler(*args, **kwargs):
            try:
                if any(len(value) > contract.MAX_PATH_ID for value in kwargs.values()):
                    raise refusals.NOT_FOUND.exception()
                _check_contract(path)
                result = view(*args, **kwargs)
                if isinstance(result, Response):
                    return result
                return _json(status, result) if status != 204 else _json(204, None)
            except InvalidValue as exc:
                return error_response(inputs.invalid_field(exc, fields or {}))
            except FairslotError as exc:
                if exc.status == 503:
                    observability.metric("StorageUnavailable")
                return error_response(exc)
            except Exception:
                observability.logger().exception("unhandled error")
                return _json(500, {"error": {"code": "internal_error", "message": CODES["internal_error"].en, "details": {}}})

        handler.fields = fields or {}  # type: ignore[attr-defined]  # read by tests/unit/test_field_names.py
        _cors_paths.add(path)
        return app.route(path, methods=list(methods), authorizer=authorizer, api_key_required=api_key_required,
                         content_types=_ACCEPTED_TYPES)(handler)

    return register


def _check_contract(path):
    """The query string and the body parsed by the route's contract before the handler runs;
    the handler reads them with _query() and _body()."""
    request = _request()
    op = contract.operation(request.method, path)
    if op is None:  # tests/unit/test_contract.py fails for a route without a contract
        _keep_parsed(request, request.query_params or {}, None)
        return
    _keep_parsed(request, op.parse_query(request.query_params), op.parse_body(request.raw_body))


def _request():
    """The request being served (Chalice sets it for each one; there is always one in a route)."""
    request = app.current_request
    if request is None:
        raise RuntimeError("no request is being served")
    return request


def _keep_parsed(request, query, body):
    """The parsed query and body ride on the request itself, so they live exactly as long."""
    setattr(request, "fairslot_query", query)
    setattr(request, "fairslot_body", body)


@app.middleware("http")
def chalice_errors_in_envelope(event, get_response):
    """Chalice's own refusals (405 unknown method, 415, its 500) in the §5 error envelope."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = {405: "method_not_allowed", 415: "unsupported_media_type", 400: "malformed_request"}.get(response.status_code,
                                                                                                        "internal_error")
        headers = {k: v for k, v in (response.headers or {}).items() if k.lower() == "allow"}
        return _json(response.status_code, {"error": {"code": code, "message": CODES[code].en, "details": {}}}, headers)
    return response


def _authorize(auth_request, allowed):
    try:
        claims = verify_staff_token(auth_request.token)
    except InvalidToken:
        raise NotAuthenticated()
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
    """The JSON body, already checked against the route's contract."""
    request = _request()
    body = getattr(request, "fairslot_body", None)
    return body if body is not None else inputs.json_body(request)


def _query():
    """The query string's declared parameters that are present, parsed by the route's contract."""
    return getattr(_request(), "fairslot_query")


def _header(name):
    headers = _request().headers
    return headers.get(name) if headers else None


def _client_ip():
    return ((_request().context or {}).get("identity") or {}).get("sourceIp")


# --- public ---------------------------------------------------------------------------------

@route("/health")
def health():
    return {"status": "ok", "time": clock.to_rfc3339(clock.now())}


@route("/sites")
def list_sites():
    # How long personal data is kept: the web app's personal-data page quotes it.
    return {"sites": [site_catalog.site_view(s) for s in site_catalog.sites()],
            "personal_data_retention_days": config.current().personal_data_retention_days}


def _search_window(q, now):
    start = q.get("from") or clock.parse_instant(clock.to_rfc3339(now))
    return start, q.get("to") or booking.default_search_window(start)


@route("/openapi.json")
def openapi_document():
    from chalicelib.http import openapi  # built only when asked: nothing on the cold-start path

    return openapi.document()


@route("/sites/{site_id}/slots", fields=inputs.SEARCH_FIELDS)
def search_slots(site_id):
    q, now = _query(), clock.now()
    start, end = _search_window(q, now)
    return booking.search(site_id, q["procedure"], start, end, q.get("limit", 20), q.get("cursor"), now)


@route("/holds", methods=["POST"], status=201, fields=inputs.APPLICANT_FIELDS)
def create_hold():
    body, now = _body(), clock.now()
    applicant = inputs.applicant(body, clock.utc_date(now))
    return booking.hold(inputs.text(body, "slot_id", max_len=64), applicant, _client_ip(), now)


@route("/holds/{hold_id}", methods=["DELETE"], status=204)
def release_hold(hold_id):
    booking.release(hold_id, _header("x-hold-token"), clock.now(), client_ip=_client_ip())


@route("/bookings", methods=["POST"])
def confirm_booking():
    body = _body()
    view, created = booking.confirm(inputs.text(body, "hold_id", max_len=64), inputs.text(body, "hold_token", max_len=100), clock.now(),
                                    client_ip=_client_ip())
    return Response(body=json.dumps(view), status_code=201 if created else 200,
                    headers={"Content-Type": "application/json", **_cors_headers()})


@route("/bookings/lookup", methods=["POST"], status=202, fields=inputs.DOCUMENT_FIELDS)
def look_up_booking():
    """Find my booking: the same 202 whether or not anything matched (the link goes by e-mail)."""
    booking.send_link_again(**inputs.booking_lookup(_body()), client_ip=_client_ip(), now=clock.now())
    return {"status": "accepted"}


@route("/bookings/{booking_id}")
def get_booking(booking_id):
    return booking.get_booking(booking_id, _header("x-booking-token"))


@route("/bookings/{booking_id}", methods=["DELETE"], status=204)
def cancel_booking(booking_id):
    booking.cancel(booking_id, _header("x-booking-token"), clock.now(), client_ip=_client_ip())


# --- draw allocation (R6) and transparency -------------------------------------------------

@route("/requests", methods=["POST"], status=201, fields=inputs.DRAW_REQUEST_FIELDS)
def file_request():
    now = clock.now()
    fields = inputs.draw_request(_body(), clock.utc_date(now))
    return draw_requests.file_request(now=now, client_ip=_client_ip(), **fields)


@route("/requests/{request_id}")
def get_request(request_id):
    return draw_requests.request_view(request_id, _header("x-request-token"), clock.now())


@route("/requests/{request_id}", methods=["DELETE"], status=204)
def withdraw_request(request_id):
    draw_requests.withdraw(request_id, _header("x-request-token"), clock.now())


@route("/sites/{site_id}/procedures/{procedure_id}/draws", fields=inputs.PAGE_FIELDS)
def list_draws(site_id, procedure_id):
    q = _query()
    return transparency.public_draws(site_id, procedure_id, clock.now(), inputs.integer(q.get("limit", 20), "limit", 1, 50), q.get("cursor"))


@route("/sites/{site_id}/procedures/{procedure_id}/draws/{draw_id}/record", fields=inputs.RECORD_FIELDS)
def draw_record(site_id, procedure_id, draw_id):
    q = _query()
    return transparency.draw_record_page(site_id, procedure_id, draw_id, q.get("part", "entrants"), q.get("cursor"))


@route("/stats/{site_id}", fields=inputs.WINDOW_FIELDS)
def site_stats(site_id):
    q, now = _query(), clock.now()
    start = q.get("from") or clock.parse_instant(clock.utc_date(now).isoformat())
    end = q.get("to")  # None: transparency.stats's own default window (bounded there)
    return transparency.stats(site_id, start, end, now)


@app.schedule(Rate(5, unit=Rate.MINUTES))
def run_due_draws(event):
    """Draws of every draw-mode procedure, each at its policy's draw_interval_seconds."""
    return draw_runs.run_due_draws(clock.now())


# --- staff ----------------------------------------------------------------------------------

@route("/staff/sites", methods=["POST"], status=201, authorizer=staff_admin)
def create_site():
    body = _body()
    fields = inputs.site(body)
    created = site_catalog.create_site(**fields, now=clock.now(), staff_subject=_staff_subject(), client_ip=_client_ip())
    return site_catalog.site_view(created)


@route("/staff/sites/{site_id}/procedures/{procedure_id}/policy", authorizer=staff_agent)
def get_policy(site_id, procedure_id):
    site_catalog.procedure(site_id, procedure_id)
    return site_catalog.policy(site_id, procedure_id).as_dict()


@route("/staff/sites/{site_id}/procedures/{procedure_id}/policy", methods=["PUT"], authorizer=staff_admin, fields=inputs.POLICY_FIELDS)
def put_policy(site_id, procedure_id):
    return site_catalog.update_policy(site_id, procedure_id, _body(), clock.now(), _staff_subject(), _client_ip()).as_dict()


@route("/staff/sites/{site_id}/schedules", methods=["POST"], status=201, authorizer=staff_admin, fields=inputs.SCHEDULE_FIELDS)
def create_schedule(site_id):
    spec = inputs.schedule(_body())
    return site_catalog.publish_schedule(site_id, spec["procedure_id"], spec, clock.now(),
                                    staff_subject=_staff_subject(), client_ip=_client_ip())


@route("/staff/sites/{site_id}/history", authorizer=staff_agent)
def site_history(site_id):
    """The site's creation, its schedules and its procedures' policy changes."""
    found = site_catalog.site(site_id)
    return audit_trail.site_history(site_id, [p["procedure_id"] for p in found.procedures])


@route("/staff/sites/{site_id}/procedures/{procedure_id}/draws", methods=["POST"], authorizer=staff_admin)
def run_draw(site_id, procedure_id):
    return draw_runs.run_draw(site_id, procedure_id, clock.now())


@route("/staff/sites/{site_id}/bookings", authorizer=staff_agent)
def day_list(site_id):
    return booking.day_list(site_id, _query().get("date") or clock.utc_date(clock.now()))


# --- issue 4: partners, staff work, notifications, audit trail ------------------------------

@app.authorizer(ttl_seconds=0, header="x-api-key")
def partner_key(auth_request):
    """The partner behind x-api-key, looked up by its hash on every request (TTL 0): a revoked
    key is refused at once."""
    found = partner_keys.authenticate(auth_request.token)
    if found is None:
        raise NotAuthenticated()
    allowed = AuthResponse(routes=["*"], principal_id=found.partner_id,
                           context={"partner_id": found.partner_id, "daily_quota": str(int(found.daily_quota))})
    # API Gateway counts and throttles the request against the usage-plan key this names (the
    # API key source is AUTHORIZER, infra/resources.yaml): the partner never sees that key.
    return {**allowed.to_dict(auth_request), "usageIdentifierKey": gateway_keys.usage_key(found.partner_id)}


def partner_route(path, **kwargs):
    """A partner route: the partner_key authorizer, and in AWS the partner usage plan's
    throttle and quota (api_key_required with the AUTHORIZER key source: see gateway_keys)."""
    return route(path, authorizer=partner_key, api_key_required=True, **kwargs)


def _authorizer_context():
    return (_request().context or {}).get("authorizer") or {}


def _partner():
    return partner_keys.quota_of(_authorizer_context())


def _staff_subject():
    return str(_authorizer_context().get("principalId") or "unknown")


@partner_route("/partner/sites/{site_id}/slots", fields=inputs.SEARCH_FIELDS)
def partner_search_slots(site_id):
    q, now = _query(), clock.now()
    _partner()
    start, end = _search_window(q, now)
    return booking.search(site_id, q["procedure"], start, end, q.get("limit", 20), q.get("cursor"), now, partner=True)


@partner_route("/partner/holds", methods=["POST"], status=201, fields=inputs.APPLICANT_FIELDS)
def partner_hold():
    body, now = _body(), clock.now()
    applicant = inputs.applicant(body, clock.utc_date(now))
    return booking.hold(inputs.text(body, "slot_id", max_len=64), applicant, _client_ip(), now, partner=_partner())


@partner_route("/partner/bookings", methods=["POST"])
def partner_confirm():
    body = _body()
    view, created = booking.confirm(inputs.text(body, "hold_id", max_len=64), inputs.text(body, "hold_token", max_len=100),
                                    clock.now(), partner_id=_partner()["partner_id"], client_ip=_client_ip())
    return _json(201 if created else 200, view)


@partner_route("/partner/bookings", fields=inputs.PAGE_FIELDS)
def partner_bookings():
    q = _query()
    return partner_keys.bookings(_partner()["partner_id"], clock.now(), q.get("limit", 50), q.get("cursor"))


@partner_route("/partner/bookings/{booking_id}", methods=["DELETE"], status=204)
def partner_cancel(booking_id):
    booking.cancel(booking_id, None, clock.now(), partner_id=_partner()["partner_id"], client_ip=_client_ip())


@partner_route("/partner/requests", methods=["POST"], status=201, fields=inputs.DRAW_REQUEST_FIELDS)
def partner_file_request():
    now = clock.now()
    fields = inputs.draw_request(_body(), clock.utc_date(now))
    return draw_requests.file_request(now=now, partner_id=_partner()["partner_id"], **fields)


@route("/staff/partners", methods=["POST"], status=201, authorizer=staff_admin)
def create_partner():
    body = _body()
    return partner_keys.create(inputs.text(body, "name"), inputs.integer(body.get("daily_quota"), "daily_quota", 1, 100_000),
                           clock.now(), _staff_subject(), _client_ip())


@route("/staff/partners", authorizer=staff_admin)
def list_partners():
    return partner_keys.list_all()


@route("/staff/partners/{partner_id}", methods=["DELETE"], status=204, authorizer=staff_admin)
def revoke_partner(partner_id):
    partner_keys.revoke(partner_id, clock.now(), _staff_subject(), _client_ip())


@route("/staff/bookings/{booking_id}/check-in", methods=["POST"], authorizer=staff_agent, fields=inputs.CHECK_IN_FIELDS)
def check_in(booking_id):
    doc_type, number, birth_date, permit_expires_on = inputs.check_in(_body())
    return staff.check_in(booking_id, doc_type, number, birth_date, _staff_subject(), _client_ip(), clock.now(),
                          permit_expires_on=permit_expires_on)


@route("/staff/bookings/{booking_id}/no-show", methods=["POST"], authorizer=staff_agent)
def no_show(booking_id):
    return staff.no_show(booking_id, _staff_subject(), _client_ip(), clock.now())


@route("/staff/slots/{slot_id}/close", methods=["POST"], authorizer=staff_agent)
def close_slot(slot_id):
    return staff.close_slot(slot_id, _staff_subject(), _client_ip(), clock.now())


@route("/staff/signals", authorizer=staff_agent)
def review_signals():
    q = _query()
    return fraud_signals.review(q.get("date") or fraud_signals.today(clock.now()), q.get("days", 1))


@route("/staff/partners/{partner_id}/history", authorizer=staff_admin)
def partner_history(partner_id):
    return partner_keys.history(partner_id)


@route("/staff/slots/{slot_id}/history", authorizer=staff_agent)
def slot_history(slot_id):
    return audit_trail.slot_history(slot_id)


@route("/staff/bookings/{booking_id}/history", authorizer=staff_agent)
def booking_history(booking_id):
    return audit_trail.booking_history(booking_id)


@app.on_dynamodb_record(stream_arn=config.current().bookings_stream_arn, batch_size=1, starting_position="TRIM_HORIZON")
def bookings_stream(event):
    """Notifications from the bookings stream: a failed send raises, so the record is retried
    (the booking is already stored; nothing on the booking path waits for e-mail)."""
    for record in event:
        notify.booking_changed(record.event_name, record.old_image, record.new_image, record.sequence_number)


@app.schedule(Rate(1, unit=Rate.HOURS))
def send_reminders(event):
    """Marks tomorrow's bookings as reminded, once each; the stream sends the e-mails."""
    return notify.remind_tomorrow(clock.now())


@app.schedule(Rate(15, unit=Rate.MINUTES))
def publish_signal_metrics(event):
    """Today's identities-behind-one-IP figures (R9) as metrics for their alarm: holds and requests
    only count them, so this run reads the day's counters once."""
    return fraud_signals.publish_metrics(clock.now())


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
