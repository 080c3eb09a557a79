"""Test helpers: one small client for the API, in process (Chalice test client) or over HTTP."""
import contextlib
import email
import json
import os
import re
import threading
import time
from datetime import date, timedelta
from email import policy as email_policy
from pathlib import Path

from chalicelib.http.staff_auth import issue_local_staff_token
from tests import contract_check


def at_the_wire(monkeypatch, handle):
    """From now on every botocore call goes through handle(send, service, operation, params),
    where send() makes the real call: tests count, record, answer or fail DynamoDB calls there."""
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def call(client, operation, params):
        return handle(lambda: original(client, operation, params), client.meta.service_model.service_name, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)


SITE = "test-site"
PROCEDURE = "renewal"


def applicant(n, doc_type="agdref", birth_date="1990-01-02", email=None):
    number = f"{n:010d}" if doc_type == "agdref" else f"P{n:08d}"
    return {
        "document": {"type": doc_type, "number": number},
        "birth_date": birth_date,
        "family_name": f"Family{n}",
        "given_names": f"Given{n}",
        "email": email or f"person{n}@example.org",
    }


class Reply:
    def __init__(self, status, body, headers):
        self.status, self.body, self.headers = status, body, {k.lower(): v for k, v in headers.items()}

    @property
    def code(self):
        return (self.body or {}).get("error", {}).get("code")

    def __repr__(self):
        return f"<{self.status} {self.body}>"


# --- proven identities (SPEC R10): the registry file and the codes in the outbox ---------------

_family_names: dict = {}  # (document type, number, birth date) -> the family name it was held under (look-ups carry none)
HTTP_OUTBOX = None  # where a stack over HTTP writes its e-mails (tests/e2e/conftest.py, bench scripts set it)
_places: dict = {}  # a slot id names one site and procedure, whoever listed it (its id is an HMAC of them)
PROVED = ("/holds", "/requests", "/bookings/lookup")  # the bodies that carry an identity token
_registered: dict[str, dict] = {}  # registry file -> {(type, number, birth date): the line in force}
_registry_lock = threading.Lock()


def register(person, registry_file=None):
    """The person in the identity registry (JSON Lines, IDENTITY_REGISTRY_FILE), with their own
    e-mail as the registry's contact; a later line for the same document replaces an earlier one."""
    path = registry_file or os.environ["IDENTITY_REGISTRY_FILE"]
    document = person["document"]
    line = {"document_type": document["type"], "number": document["number"], "birth_date": person["birth_date"],
            "family_name": person.get("family_name") or "Lookup", "email": person["email"]}
    key = (line["document_type"], re.sub(r"[^0-9A-Za-z]", "", str(line["number"])).upper(), line["birth_date"])
    with _registry_lock:
        in_force = _registered.setdefault(path, {})
        if in_force.get(key) == line:
            return
        with open(path, "a", encoding="utf-8") as f:  # one write: appended whole
            f.write(json.dumps(line) + "\n")
        in_force[key] = line


def code_in(outbox, verification_id, wait=10.0):
    """The one-time code of a verification, read from its e-mail in the outbox."""
    path = Path(outbox) / f"verification-{verification_id}.eml"
    deadline = time.monotonic() + wait
    while not path.exists():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)
    body = email.message_from_bytes(path.read_bytes(), policy=email_policy.default).get_body().get_content()
    return re.search(r"\b([0-9]{6})\b", body).group(1)


class Api:
    """The API as a client sees it. `transport` is a Chalice test client or a base URL.

    Holds, requests and look-ups that carry no `identity_token` get one through the real flow
    (the person put in the registry file, POST /verifications, the code read from the outbox,
    POST /verifications/{id}); `call(..., prove=False)` sends the body as it is."""

    def __init__(self, transport, staff_secret=None, outbox=None):
        self.transport = transport
        self.staff_secret = staff_secret or os.environ["STAFF_JWT_SECRET"]
        self._session = None
        self._outbox = outbox
        self._tokens = {}  # (site, procedure, document type, number, birth date, e-mail) -> identity token
        self._places = _places  # slot id -> (site id, procedure id), from every slot page any client saw
        self._held_at = {}  # (document type, number, birth date) -> (site id, procedure id) of its last hold or request

    @property
    def outbox(self):
        if self._outbox:
            return self._outbox
        if isinstance(self.transport, str):
            return HTTP_OUTBOX
        from chalicelib.platform import config

        return config.current().outbox_dir

    @contextlib.contextmanager
    def _codes_to_an_outbox(self):
        """Where the code's e-mail lands: the outbox; in process, a test that sends through a
        stubbed SES (no outbox) gets one for the code alone."""
        outbox = self.outbox
        if outbox or isinstance(self.transport, str):
            yield outbox
            return
        import tempfile

        outbox = tempfile.mkdtemp(prefix="fairslot-test-codes-")
        os.environ["OUTBOX_DIR"] = outbox
        try:
            yield outbox
        finally:
            del os.environ["OUTBOX_DIR"]

    def _default_site(self):
        return getattr(self, "site", SITE)

    def prove(self, person, site_id=None, procedure=PROCEDURE, ip=None, fresh=False):
        """An identity token for `person` on this site and procedure, or None where none can be had
        (a procedure that proves nothing, a refused document, a registry that does not answer)."""
        site_id = site_id or self._default_site()
        document = person["document"]
        key = (site_id, procedure, document["type"], document["number"], person["birth_date"], person["email"])
        if key in self._tokens and not fresh:
            return self._tokens[key]
        register(person)
        headers = {"X-Forwarded-For": ip} if ip else None
        with self._codes_to_an_outbox() as outbox:
            started = self.call("POST", "/verifications", {"site_id": site_id, "procedure_id": procedure, "applicant": person}, headers)
        if started.status != 202:
            return None
        code = code_in(outbox, started.body["verification_id"])
        if code is None:
            return None
        proven = self.call("POST", f"/verifications/{started.body['verification_id']}", {"code": code}, headers)
        if proven.status != 201:
            return None
        self._tokens[key] = proven.body["identity_token"]
        return self._tokens[key]

    def _place_of(self, path, body):
        """Where a hold, request or look-up acts: (site, procedure) and the person it is for."""
        if path == "/holds":
            return (*self._places.get(body.get("slot_id"), (self._default_site(), PROCEDURE)), body.get("applicant"))
        if path == "/requests":
            return body.get("site_id"), body.get("procedure_id"), body.get("applicant")
        document = body.get("document") or {}
        person = {"document": document, "birth_date": body.get("birth_date"), "email": body.get("email"), "given_names": "Lookup",
                  "family_name": _family_names.get((document.get("type"), document.get("number"), body.get("birth_date")))}
        return (*self._held_at.get((document.get("type"), document.get("number"), body.get("birth_date")),
                                   (self._default_site(), PROCEDURE)), person)

    def _with_proof(self, method, path, body, headers, fresh=False):
        """The body with an identity token added, if it needs one and has none."""
        if method == "POST" and path in ("/partner/holds", "/partner/requests") and isinstance(body, dict):
            try:
                register(body["applicant"])  # the association sees the person: the registry knows them
            except (KeyError, TypeError, AttributeError):
                pass
        if method != "POST" or path not in PROVED or not isinstance(body, dict) or "identity_token" in body:
            return body
        site_id, procedure, person = self._place_of(path, body)
        if not isinstance(person, dict) or not isinstance(person.get("document"), dict):
            return body
        if path != "/bookings/lookup":
            document = person["document"]
            self._held_at[(document.get("type"), document.get("number"), person.get("birth_date"))] = (site_id, procedure)
            _family_names[(document.get("type"), document.get("number"), person.get("birth_date"))] = person.get("family_name")
        ip = (headers or {}).get("X-Forwarded-For")
        try:
            token = self.prove(person, site_id, procedure, ip, fresh=fresh)
        except (KeyError, TypeError, AttributeError):
            return body  # a body a test made malformed on purpose: sent as it is
        return {**body, "identity_token": token} if token else body

    def call(self, method, path, body=None, headers=None, raw=None, prove=True):
        proved = self._with_proof(method, path, body, headers) if prove and raw is None else body
        reply = self._send(method, path, proved, headers, raw)
        if proved is not body and reply.status == 403 and reply.code == "identity_unverified":
            reply = self._send(method, path, self._with_proof(method, path, body, headers, fresh=True), headers, raw)
        return reply

    def _send(self, method, path, body=None, headers=None, raw=None):
        headers = dict(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            headers.setdefault("Content-Type", "application/json")
        if isinstance(self.transport, str):
            import requests

            if self._session is None:
                self._session = requests.Session()
            r = self._session.request(method, self.transport + path, data=data, headers=headers, timeout=60)
            text, status, reply_headers = r.text, r.status_code, dict(r.headers)
        else:
            r = getattr(self.transport.http, method.lower())(path, headers=headers, body=data)
            text = r.body.decode() if isinstance(r.body, bytes) else r.body
            status, reply_headers = r.status_code, r.headers
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = {"raw": text}
        if isinstance(parsed, dict) and isinstance(parsed.get("slots"), list):
            self._places.update({s["slot_id"]: (s["site_id"], s["procedure_id"]) for s in parsed["slots"]
                                 if isinstance(s, dict) and "slot_id" in s and "site_id" in s})
        reply = Reply(status, parsed, reply_headers)
        if not isinstance(self.transport, str):  # in process: every answer as GET /openapi.json declares it
            contract_check.check_reply(method, path, reply)
        return reply

    # --- staff ---
    def staff_headers(self, groups=("admins",)):
        return {"Authorization": "Bearer " + issue_local_staff_token(self.staff_secret, "tester", groups)}

    def create_site(self, site_id=SITE, procedures=(PROCEDURE,)):
        body = {
            "site_id": site_id,
            "name": "Préfecture de test",
            "address": "1 rue de la Loi, 34000 Montpellier",
            "timezone": "Europe/Paris",
            "procedures": [{"procedure_id": p, "name": p.title()} for p in procedures],
        }
        reply = self.call("POST", "/staff/sites", body, self.staff_headers())
        assert reply.status == 201, reply
        return reply.body

    def set_policy(self, site_id=SITE, procedure=PROCEDURE, **values):
        reply = self.call("PUT", f"/staff/sites/{site_id}/procedures/{procedure}/policy", values, self.staff_headers())
        assert reply.status == 200, reply
        return reply.body

    def schedule(self, site_id=SITE, procedure=PROCEDURE, days=1, slot_minutes=60, counters=1,
                 opens="09:00", closes="12:00", publish="now", start_in_days=2):
        first = date.today() + timedelta(days=start_in_days)
        body = {
            "procedure_id": procedure,
            "from": first.isoformat(),
            "to": (first + timedelta(days=days - 1)).isoformat(),
            "weekdays": [0, 1, 2, 3, 4, 5, 6],
            "opens": opens,
            "closes": closes,
            "slot_minutes": slot_minutes,
            "counters": counters,
            "publish": publish,
        }
        reply = self.call("POST", f"/staff/sites/{site_id}/schedules", body, self.staff_headers())
        assert reply.status == 201, reply
        return reply.body["created"]

    # --- public ---
    def slots(self, site_id=SITE, procedure=PROCEDURE, limit=100, **params):
        query = "&".join(f"{k}={v}" for k, v in {"procedure": procedure, "limit": limit, **params}.items())
        reply = self.call("GET", f"/sites/{site_id}/slots?{query}")
        assert reply.status == 200, reply
        return reply.body["slots"]

    def all_slot_ids(self, site_id=SITE, procedure=PROCEDURE):
        ids, cursor = [], None
        while True:
            extra = {"cursor": cursor} if cursor else {}
            query = "&".join(f"{k}={v}" for k, v in {"procedure": procedure, "limit": 100, **extra}.items())
            reply = self.call("GET", f"/sites/{site_id}/slots?{query}")
            ids += [s["slot_id"] for s in reply.body["slots"]]
            cursor = reply.body["next_cursor"]
            if not cursor:
                return ids

    def draws(self, site_id=SITE, procedure=PROCEDURE, limit=20):
        """The latest page of a procedure's draws (summaries)."""
        reply = self.call("GET", f"/sites/{site_id}/procedures/{procedure}/draws?limit={limit}")
        assert reply.status == 200, reply
        return reply.body["draws"]

    def draw_record(self, draw, site_id=SITE, procedure=PROCEDURE):
        """A draw's summary and its whole record read page by page, as a verifier rebuilds it:
        {"seed", "seed_hash", "entrants", "slots", "allocation", ...}."""
        from urllib.parse import quote

        record = dict(draw)
        for part in ("entrants", "slots", "allocation"):
            items, cursor = [], None
            while True:
                query = f"part={part}" + (f"&cursor={quote(cursor)}" if cursor else "")
                reply = self.call("GET", f"/sites/{site_id}/procedures/{procedure}/draws/{draw['draw_id']}/record?{query}")
                assert reply.status == 200, reply
                items += reply.body["items"]
                cursor = reply.body["next_cursor"]
                if not cursor:
                    break
            record[part] = items
        return record

    def hold(self, slot_id, person, ip=None, prove=True):
        headers = {"X-Forwarded-For": ip} if ip else None
        return self.call("POST", "/holds", {"slot_id": slot_id, "applicant": person}, headers, prove=prove)

    def release(self, hold):
        return self.call("DELETE", f"/holds/{hold['hold_id']}", headers={"X-Hold-Token": hold["hold_token"]})

    def confirm(self, hold):
        return self.call("POST", "/bookings", {"hold_id": hold["hold_id"], "hold_token": hold["hold_token"]})

    def booking(self, booking):
        return self.call("GET", f"/bookings/{booking['booking_id']}", headers={"X-Booking-Token": booking["booking_token"]})

    def cancel(self, booking):
        return self.call("DELETE", f"/bookings/{booking['booking_id']}", headers={"X-Booking-Token": booking["booking_token"]})

    def ready_site(self, **policy):
        """A site with one procedure, the given policy and one day of hourly slots (3 slots)."""
        self.create_site()
        if policy:
            self.set_policy(**policy)
        self.schedule()
        return self.slots()

    # --- partners ---
    def create_partner(self, name="Cimade Montpellier", daily_quota=50, sites=(SITE,)):
        reply = self.call("POST", "/staff/partners", {"name": name, "daily_quota": daily_quota, "sites": list(sites)}, self.staff_headers())
        assert reply.status == 201, reply
        return reply.body

    def revoke_partner(self, partner):
        return self.call("DELETE", f"/staff/partners/{partner['partner_id']}", headers=self.staff_headers())

    @staticmethod
    def partner_headers(partner):
        return {"x-api-key": partner["api_key"] if isinstance(partner, dict) else partner}

    def partner_slots(self, partner, site_id=SITE, procedure=PROCEDURE, limit=100):
        reply = self.call("GET", f"/sites/{site_id}/slots?procedure={procedure}&limit={limit}".replace("/sites/", "/partner/sites/", 1),
                          headers=self.partner_headers(partner))
        assert reply.status == 200, reply
        return reply.body["slots"]

    def partner_hold(self, partner, slot_id, person):
        return self.call("POST", "/partner/holds", {"slot_id": slot_id, "applicant": person}, self.partner_headers(partner))

    def partner_confirm(self, partner, hold):
        return self.call("POST", "/partner/bookings", {"hold_id": hold["hold_id"], "hold_token": hold["hold_token"]},
                         self.partner_headers(partner))

    def partner_bookings(self, partner):
        return self.call("GET", "/partner/bookings", headers=self.partner_headers(partner))

    def partner_cancel(self, partner, booking_id):
        return self.call("DELETE", f"/partner/bookings/{booking_id}", headers=self.partner_headers(partner))

    def partner_book(self, partner, slot_id, person):
        hold = self.partner_hold(partner, slot_id, person)
        assert hold.status == 201, hold
        booked = self.partner_confirm(partner, hold.body)
        assert booked.status == 201, booked
        return booked.body

    def book(self, slot_id, person, ip=None):
        hold = self.hold(slot_id, person, ip)
        assert hold.status == 201, hold
        booked = self.confirm(hold.body)
        assert booked.status == 201, booked
        return booked.body


def messages(outbox, codes=False):
    """The e-mails written to an outbox directory, by file name (without the one-time codes'
    unless `codes`: the support client asks for those itself)."""
    outbox = Path(outbox)
    if not outbox.exists():
        return {}
    return {p.name: email.message_from_bytes(p.read_bytes(), policy=email_policy.default) for p in sorted(outbox.glob("*.eml"))
            if codes or not p.name.startswith("verification-")}


def deliver(stream):
    """One pass of a stream poller, without waiting between attempts."""
    stream._retry_at = 0
    return stream.poll_once()
