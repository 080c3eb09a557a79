"""No input gives a 5xx (SPEC §5; DEVELOPERS.md, "Tests"): every route driven in process with generated path ids, query
strings and bodies, with and without credentials; every error answer is the §5 envelope.

The explicit cases are the reproduced 500s; the property covers their families (non-ASCII digits,
numbers and dates out of range, NaN/Infinity, nesting deeper than the schema)."""
import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app as application
from chalicelib.http import contract
from chalicelib.rules.codes import CODES
from tests.support import PROCEDURE, SITE, applicant

# Strings that broke a parser once, or could: Unicode digits, huge numbers, dates at the edge of
# what datetime holds, constants JSON does not have.
NASTY = ["²", "٣", "1" * 5000, "-1", "0", "1e400", "NaN", "Infinity", "9999-12-31", "0001-01-01", "9999-12-31T23:59:59+00:00",
         "0001-01-01T00:00:00-14:00", "2026-W01-1", "", " ", "\x00", "../", "%", "a" * 300, "null", "[]", "{}"]
nasty_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=40))
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        st.floats(), nasty_text)
json_value = st.recursive(json_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                               st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                          max_leaves=12)
ROUTES = sorted((path, method) for path, methods in application.app.routes.items() for method in methods if method != "OPTIONS")


def _valid_body(op):
    """A body the route accepts, to mutate field by field."""
    person = applicant(7)
    return {
        "/holds": {"slot_id": "x", "applicant": person},
        "/partner/holds": {"slot_id": "x", "applicant": person},
        "/bookings": {"hold_id": "h", "hold_token": "t"},
        "/partner/bookings": {"hold_id": "h", "hold_token": "t"},
        "/requests": {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": person, "from": "2026-03-01", "to": "2026-03-09"},
        "/partner/requests": {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": person, "from": "2026-03-01",
                              "to": "2026-03-09"},
        "/staff/sites": {"name": "n", "address": "a", "timezone": "Europe/Paris", "procedures": [{"procedure_id": "p", "name": "p"}]},
        "/staff/sites/{site_id}/schedules": {"procedure_id": PROCEDURE, "from": "2026-03-02", "to": "2026-03-02", "opens": "09:00",
                                             "closes": "10:00", "slot_minutes": 30},
        "/staff/partners": {"name": "n", "daily_quota": 3, "sites": [SITE]},
        "/staff/bookings/{booking_id}/check-in": {"document": {"type": "agdref", "number": "0000000007"},
                                                  "birth_date": "1990-01-02"},
        "/staff/sites/{site_id}/procedures/{procedure_id}/policy": {"hold_ttl_seconds": 600},
    }.get(op.path, {}) if op else {}


def _mutated(body, data):
    """The body with one field (at any depth) replaced by a generated value."""
    body = json.loads(json.dumps(body))
    paths = []

    def walk(node, trail):
        for key, value in (node.items() if isinstance(node, dict) else enumerate(node)):
            paths.append(trail + [key])
            if isinstance(value, (dict, list)):
                walk(value, trail + [key])

    walk(body, [])
    if paths:
        trail = data.draw(st.sampled_from(paths))
        node = body
        for key in trail[:-1]:
            node = node[key]
        node[trail[-1]] = data.draw(json_value)
    return json.dumps(body)


def _raw_body(op, data):
    kind = data.draw(st.sampled_from(["mutated", "mutated", "any", "constant", "deep", "empty"]))
    if kind == "mutated":
        return _mutated(_valid_body(op), data)
    if kind == "any":
        return json.dumps(data.draw(json_value))
    if kind == "constant":
        field = data.draw(st.sampled_from(["hold_ttl_seconds", "partner_share", "daily_quota", "slot_minutes", "limit"]))
        return f'{{"{field}": {data.draw(st.sampled_from(["Infinity", "-Infinity", "NaN", "1e400", "1" * 5000]))}}}'
    if kind == "deep":
        depth = data.draw(st.sampled_from([3, 10, 100, 5000]))
        return '{"applicant": ' + "[" * depth + "]" * depth + "}"
    return ""


@pytest.fixture
def world(api):
    """A site with slots, a booking, a partner: ids that exist, so that routes go past their lookups."""
    api.ready_site()
    slot = api.slots()[0]
    hold = api.hold(slot["slot_id"], applicant(1)).body
    booking = api.confirm(hold).body
    partner = api.create_partner()
    return {"api": api, "ids": [SITE, PROCEDURE, slot["slot_id"], hold["hold_id"], booking["booking_id"], partner["partner_id"]],
            "headers": [{}, api.staff_headers(), api.staff_headers(("agents",)), {"x-api-key": partner["api_key"]},
                        {"Authorization": "Bearer not-a-jwt"}, {"x-api-key": "nope"},
                        {"X-Booking-Token": booking["booking_token"], "X-Hold-Token": hold["hold_token"]}]}


def assert_enveloped(reply, what):
    assert reply.status < 500, (what, reply)
    if reply.status >= 400:
        error = (reply.body or {}).get("error")
        assert isinstance(error, dict) and set(error) == {"code", "message", "details"}, (what, reply)
        assert error["code"] in CODES and CODES[error["code"]].status == reply.status, (what, reply)


@pytest.mark.parametrize("path,method", ROUTES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_input_gives_a_server_error(world, path, method, data):
    op = contract.operation(method, path)
    concrete = path
    for name in (op.path_params if op else []):
        value = data.draw(st.one_of(st.sampled_from(world["ids"]), nasty_text.filter(lambda s: s and s not in ("../", "."))))
        concrete = concrete.replace(f"{{{name}}}", quote(value, safe=""))
    names = list(op.query) if op else []
    query = data.draw(st.dictionaries(st.sampled_from(names + ["extra"]), nasty_text, max_size=4)) if data.draw(st.booleans()) \
        else {n: data.draw(nasty_text) for n in names}
    if query:
        concrete += "?" + urlencode(query)
    headers = dict(data.draw(st.sampled_from(world["headers"])))
    body = None
    if method in ("POST", "PUT"):
        body = _raw_body(op, data)
        headers["Content-Type"] = data.draw(st.sampled_from(["application/json", "application/json", "text/plain"]))
    reply = world["api"].call(method, concrete, headers=headers, raw=body)
    assert_enveloped(reply, (method, concrete, body and body[:200]))


REPRODUCED = [
    ("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=²", None, 422),
    ("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=" + "9" * 5000, None, 422),
    ("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&from=9999-12-31", None, 422),
    ("GET", f"/stats/{SITE}?from=9999-12-31", None, 422),
    ("GET", "/staff/signals?date=0001-01-01", None, 422),
    ("PUT", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy", '{"partner_share": Infinity}', 400),
    ("PUT", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy", '{"hold_ttl_seconds": 1e400}', 400),
    ("POST", "/staff/partners", '{"name": "x", "daily_quota": "²"}', 422),
    ("POST", f"/staff/sites/{SITE}/schedules", json.dumps({"procedure_id": PROCEDURE, "from": "9999-12-01", "to": "9999-12-31",
                                                           "opens": "09:00", "closes": "12:00", "slot_minutes": 30}), 422),
    ("POST", "/holds", '{"slot_id": "x", "applicant": ' + "[" * 10000 + "]" * 10000 + "}", 400),
    ("POST", "/holds", '{"slot_id": "x", "applicant": {"document": {"type": {"a": {"b": {"c": [[[1]]]}}}}}}', 400),
]


@pytest.mark.parametrize("method,path,raw,status", REPRODUCED)
def test_reproduced_server_errors_are_client_errors(world, method, path, raw, status):
    reply = world["api"].call(method, path, headers=world["headers"][1], raw=raw)
    assert reply.status == status, reply
    assert_enveloped(reply, path)


def test_unknown_routes_methods_and_media_types_answer_in_the_envelope(api):
    assert api.call("GET", "/no/such/route").code == "not_found"
    assert api.call("GET", "/no/such/route").status == 404
    wrong_method = api.call("PATCH", "/sites")
    assert (wrong_method.status, wrong_method.code) == (405, "method_not_allowed")
    odd_type = api.call("POST", "/holds", headers={"Content-Type": "image/png"}, raw="x")
    assert (odd_type.status, odd_type.code) == (415, "unsupported_media_type")
