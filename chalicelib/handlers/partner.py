"""The partners' routes (SPEC §5, partners): what an association does for its beneficiaries, behind its API key."""
from chalice import Response

from chalicelib.handlers.public import search_window
from chalicelib.handlers.routing import Routes
from chalicelib.http import inputs
from chalicelib.platform import clock
from chalicelib.usecases import PartnerContext, View, booking, draw_requests, partner_keys

routes = Routes(__name__)
route = routes.route


def _partner() -> PartnerContext:
    """The partner the authorizer let through: {"partner_id", "daily_quota"}."""
    return partner_keys.quota_of(routes.authorizer_context())


@route("/partner/sites/{site_id}/slots", fields=inputs.SEARCH_FIELDS)
def partner_search_slots(site_id: str) -> View:
    q, now = routes.query(), clock.now()
    partner_keys.check_site(_partner(), site_id)
    start, end = search_window(q, now)
    return booking.search(site_id, q["procedure"], start, end, q.get("limit", 20), q.get("cursor"), now, partner=True)


@route("/partner/holds", methods=["POST"], status=201, fields=inputs.APPLICANT_FIELDS)
def partner_hold() -> View:
    body, now = routes.body(), clock.now()
    applicant = inputs.applicant(body.applicant, clock.utc_date(now))
    return booking.hold(body.slot_id, applicant, routes.client_ip(), now, partner=_partner())


@route("/partner/bookings", methods=["POST"])
def partner_confirm() -> Response:
    body = routes.body()
    view, created = booking.confirm(body.hold_id, body.hold_token, clock.now(), partner_id=_partner()["partner_id"],
                                    client_ip=routes.client_ip())
    return routes.respond(201 if created else 200, view)


@route("/partner/bookings", fields=inputs.PAGE_FIELDS)
def partner_bookings() -> View:
    q = routes.query()
    return partner_keys.bookings(_partner()["partner_id"], clock.now(), q.get("limit", 50), q.get("cursor"))


@route("/partner/bookings/{booking_id}", methods=["DELETE"], status=204)
def partner_cancel(booking_id: str) -> None:
    booking.cancel(booking_id, None, clock.now(), partner_id=_partner()["partner_id"], client_ip=routes.client_ip())


@route("/partner/requests", methods=["POST"], status=201, fields=inputs.DRAW_REQUEST_FIELDS)
def partner_file_request() -> View:
    body, now = routes.body(), clock.now()
    inputs.applicant(body.applicant, clock.utc_date(now))
    partner = _partner()
    partner_keys.check_site(partner, body.site_id)
    return draw_requests.file_request(body, now, partner=partner)
