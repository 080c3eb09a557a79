"""The prefecture staff's routes (SPEC §5, staff): sites, policies, schedules, draws, partners, the counter and audit trails."""
from chalicelib.handlers.routing import Routes
from chalicelib.http import inputs
from chalicelib.platform import clock
from chalicelib.usecases import View, audit_trail, booking, fraud_signals, identity_release, partner_keys, site_catalog, staff, staff_draws

routes = Routes(__name__)
route = routes.route


@route("/staff/sites", methods=["POST"], status=201)
def create_site() -> View:
    body = inputs.site(routes.body())
    created = site_catalog.create_site(body.site_id, body.name, body.address, body.timezone, [p.as_dict() for p in body.procedures],
                                       clock.now(), routes.staff_subject(), routes.client_ip(), name_en=body.name_en)
    return site_catalog.site_view(created)


@route("/staff/sites/{site_id}/procedures/{procedure_id}/policy")
def get_policy(site_id: str, procedure_id: str) -> View:
    site_catalog.procedure(site_id, procedure_id)
    return site_catalog.policy(site_id, procedure_id).as_dict()


@route("/staff/sites/{site_id}/procedures/{procedure_id}/policy", methods=["PUT"], fields=inputs.POLICY_FIELDS)
def put_policy(site_id: str, procedure_id: str) -> View:
    return site_catalog.update_policy(site_id, procedure_id, routes.body(), clock.now(), routes.staff_subject(), routes.client_ip()).as_dict()


@route("/staff/sites/{site_id}/schedules", methods=["POST"], status=201, fields=inputs.SCHEDULE_FIELDS)
def create_schedule(site_id: str) -> View:
    schedule = inputs.schedule(routes.body())
    return site_catalog.publish_schedule(site_id, schedule.procedure_id, schedule, clock.now(),
                                         staff_subject=routes.staff_subject(), client_ip=routes.client_ip())


@route("/staff/sites/{site_id}/history")
def site_history(site_id: str) -> View:
    """The site's creation, its schedules and its procedures' policy changes."""
    found = site_catalog.site(site_id)
    return audit_trail.site_history(site_id, [p["procedure_id"] for p in found.procedures])


@route("/staff/sites/{site_id}/procedures/{procedure_id}/draws", methods=["POST"])
def run_draw(site_id: str, procedure_id: str) -> View:
    return staff_draws.run_staff_draw(site_id, procedure_id, clock.now(), routes.staff_subject(), routes.client_ip(),
                                      routes.body().get("reason"))


@route("/staff/sites/{site_id}/bookings")
def day_list(site_id: str) -> View:
    return booking.day_list(site_id, routes.query().get("date") or clock.utc_date(clock.now()))


@route("/staff/partners", methods=["POST"], status=201)
def create_partner() -> View:
    body = routes.body()
    return partner_keys.create(body.name, body.daily_quota, body.sites, clock.now(), routes.staff_subject(), routes.client_ip())


@route("/staff/partners")
def list_partners() -> View:
    return partner_keys.list_all()


@route("/staff/partners/{partner_id}", methods=["DELETE"], status=204)
def revoke_partner(partner_id: str) -> None:
    partner_keys.revoke(partner_id, clock.now(), routes.staff_subject(), routes.client_ip())


@route("/staff/bookings/{booking_id}/check-in", methods=["POST"], fields=inputs.CHECK_IN_FIELDS)
def check_in(booking_id: str) -> View:
    body = routes.body()
    return staff.check_in(booking_id, body.document, body.birth_date, routes.staff_subject(), routes.client_ip(), clock.now(),
                          permit_expires_on=body.permit_expires_on)


@route("/staff/sites/{site_id}/identities/release", methods=["POST"], fields=inputs.IDENTITY_RELEASE_FIELDS)
def release_identity(site_id: str) -> View:
    """A person at the counter with their document: what was done in their name ends (R10)."""
    body = routes.body()
    return identity_release.release_identity(site_id, body.procedure_id, body.document, body.birth_date, body.reason,
                                             routes.staff_subject(), routes.client_ip(), clock.now(), email=body.email)


@route("/staff/bookings/{booking_id}/no-show", methods=["POST"])
def no_show(booking_id: str) -> View:
    return staff.no_show(booking_id, routes.staff_subject(), routes.client_ip(), clock.now())


@route("/staff/slots/{slot_id}/close", methods=["POST"])
def close_slot(slot_id: str) -> View:
    return staff.close_slot(slot_id, routes.staff_subject(), routes.client_ip(), clock.now())


@route("/staff/signals")
def review_signals() -> View:
    q = routes.query()
    return fraud_signals.review(q.get("date") or fraud_signals.today(clock.now()), q.get("days", 1))


@route("/staff/partners/{partner_id}/history")
def partner_history(partner_id: str) -> View:
    return partner_keys.history(partner_id)


@route("/staff/slots/{slot_id}/history")
def slot_history(slot_id: str) -> View:
    return audit_trail.slot_history(slot_id)


@route("/staff/bookings/{booking_id}/history")
def booking_history(booking_id: str) -> View:
    return audit_trail.booking_history(booking_id)
