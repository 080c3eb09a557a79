"""The applicants' routes (SPEC §5): sites and slots, holds, bookings, draw requests, draws and figures."""
from datetime import datetime
from typing import Any

from chalice import Response

from chalicelib.handlers.routing import Routes
from chalicelib.http import inputs, openapi
from chalicelib.platform import clock, config
from chalicelib.usecases import View, booking, draw_requests, site_catalog, transparency, verification

routes = Routes(__name__)
route = routes.route


def search_window(q: dict[str, Any], now: float) -> tuple[datetime, datetime]:
    """The search's [from, to): from now, and a month by default."""
    start = q.get("from") or clock.parse_instant(clock.to_rfc3339(now))
    return start, q.get("to") or booking.default_search_window(start)


@route("/health")
def health() -> View:
    return {"status": "ok", "time": clock.to_rfc3339(clock.now())}


@route("/sites")
def list_sites() -> View:
    # How long personal data is kept: the web app's personal-data page quotes it.
    return {"sites": [site_catalog.site_view(s) for s in site_catalog.sites()],
            "personal_data_retention_days": config.current().personal_data_retention_days}


@route("/openapi.json")
def openapi_document() -> View:
    return openapi.document()


@route("/sites/{site_id}/slots", fields=inputs.SEARCH_FIELDS)
def search_slots(site_id: str) -> View:
    q, now = routes.query(), clock.now()
    start, end = search_window(q, now)
    return booking.search(site_id, q["procedure"], start, end, q.get("limit", 20), q.get("cursor"), now)


@route("/verifications", methods=["POST"], status=202, fields=inputs.APPLICANT_FIELDS)
def start_verification() -> View:
    """R10: a one-time code to the registry's contact (or the e-mail typed); the same 202 whoever asks."""
    body, now = routes.body(), clock.now()
    applicant = inputs.applicant(body.applicant, clock.utc_date(now))
    return verification.start(body.site_id, body.procedure_id, applicant, routes.client_ip(), now)


@route("/verifications/{verification_id}", methods=["POST"], status=201)
def confirm_verification(verification_id: str) -> View:
    return verification.confirm_code(verification_id, routes.body().code, clock.now())


@route("/holds", methods=["POST"], status=201, fields=inputs.APPLICANT_FIELDS)
def create_hold() -> View:
    body, now = routes.body(), clock.now()
    return booking.hold(body.slot_id, inputs.applicant(body.applicant, clock.utc_date(now)), routes.client_ip(), now,
                        identity_token=body.identity_token)


@route("/holds/{hold_id}", methods=["DELETE"], status=204)
def release_hold(hold_id: str) -> None:
    booking.release(hold_id, routes.header("x-hold-token"), clock.now(), client_ip=routes.client_ip())


@route("/bookings", methods=["POST"])
def confirm_booking() -> Response:
    body = routes.body()
    view, created = booking.confirm(body.hold_id, body.hold_token, clock.now(), client_ip=routes.client_ip())
    return routes.respond(201 if created else 200, view)


@route("/bookings/lookup", methods=["POST"], status=202, fields=inputs.DOCUMENT_FIELDS)
def look_up_booking() -> View:
    """Find my booking: the same 202 whether or not anything matched (the link goes by e-mail)."""
    body = routes.body()
    booking.send_link_again(body.document, body.birth_date, body.email, client_ip=routes.client_ip(), now=clock.now(),
                            identity_token=body.identity_token)
    return {"status": "accepted"}


@route("/bookings/{booking_id}")
def get_booking(booking_id: str) -> View:
    return booking.get_booking(booking_id, routes.header("x-booking-token"))


@route("/bookings/{booking_id}", methods=["DELETE"], status=204)
def cancel_booking(booking_id: str) -> None:
    booking.cancel(booking_id, routes.header("x-booking-token"), clock.now(), client_ip=routes.client_ip())


# --- draw allocation (R6) and transparency -------------------------------------------------

@route("/requests", methods=["POST"], status=201, fields=inputs.DRAW_REQUEST_FIELDS)
def file_request() -> View:
    body, now = routes.body(), clock.now()
    inputs.applicant(body.applicant, clock.utc_date(now))
    return draw_requests.file_request(body, now, client_ip=routes.client_ip())


@route("/requests/{request_id}")
def get_request(request_id: str) -> View:
    return draw_requests.request_view(request_id, routes.header("x-request-token"), clock.now())


@route("/requests/{request_id}", methods=["DELETE"], status=204)
def withdraw_request(request_id: str) -> None:
    draw_requests.withdraw(request_id, routes.header("x-request-token"), clock.now())


@route("/sites/{site_id}/procedures/{procedure_id}/draws", fields=inputs.PAGE_FIELDS)
def list_draws(site_id: str, procedure_id: str) -> View:
    q = routes.query()
    return transparency.public_draws(site_id, procedure_id, clock.now(), q.get("limit", 20), q.get("cursor"))


@route("/sites/{site_id}/procedures/{procedure_id}/draws/{draw_id}/record", fields=inputs.RECORD_FIELDS)
def draw_record(site_id: str, procedure_id: str, draw_id: str) -> View:
    q = routes.query()
    return transparency.draw_record_page(site_id, procedure_id, draw_id, q.get("part", "entrants"), q.get("cursor"))


@route("/stats/{site_id}", fields=inputs.WINDOW_FIELDS)
def site_stats(site_id: str) -> View:
    q, now = routes.query(), clock.now()
    start = q.get("from") or clock.parse_instant(clock.utc_date(now).isoformat())
    end = q.get("to")  # None: transparency.stats's own default window (bounded there)
    return transparency.stats(site_id, start, end, now)
