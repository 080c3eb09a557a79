"""A small in-memory stand-in for the fairslot API (SPEC §5 public routes + policy PUT), for web
development and for the web tests when the real local stack is not available. Not the real rules:
only what the web app sees (409 slot taken, 410 expired, 422 field, 429 cooldown with Retry-After)."""
import argparse
import json
import re
import secrets
import threading
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
PARIS = timezone(timedelta(hours=1))
SITES = [
    {"site_id": "herault-montpellier", "name": "Préfecture de l'Hérault — Montpellier",
     "address": "34 place des Martyrs de la Résistance, 34062 Montpellier", "timezone": "Europe/Paris",
     "procedures": [{"procedure_id": "renewal", "name": "Renouvellement de titre de séjour", "allocation": "fcfs"},
                    {"procedure_id": "first-permit", "name": "Première demande", "allocation": "draw"}]},
    {"site_id": "herault-beziers", "name": "Sous-préfecture de Béziers", "address": "Boulevard Édouard Herriot, 34500 Béziers",
     "timezone": "Europe/Paris", "procedures": [{"procedure_id": "renewal", "name": "Renouvellement de titre de séjour", "allocation": "fcfs"}]},
]
POLICY = {}
SLOTS, HOLDS, BOOKINGS, REQUESTS, COOLDOWN = {}, {}, {}, {}, {}
DOC = {"agdref": r"^\d{10}$", "passport": r"^[A-Z0-9]{6,12}$", "visa": r"^[A-Z0-9]{6,16}$"}


def now():
    return datetime.now(timezone.utc)


def iso(dt):
    return dt.astimezone(PARIS).isoformat(timespec="seconds")


def seed():
    today = now().astimezone(PARIS).date()
    for site in SITES:
        for proc in site["procedures"]:
            for d in range(0, 21):
                day = today + timedelta(days=d)
                if day.weekday() >= 5:
                    continue
                for k in range(12):
                    start = datetime(day.year, day.month, day.day, 9, 0, tzinfo=PARIS) + timedelta(minutes=15 * k)
                    if start < now():
                        continue
                    sid = f"{site['site_id']}.{proc['procedure_id']}.{start:%Y%m%d%H%M}"
                    SLOTS[sid] = {"slot_id": sid, "site_id": site["site_id"], "procedure_id": proc["procedure_id"],
                                  "starts_at": iso(start), "ends_at": iso(start + timedelta(minutes=15)), "state": "open"}


def policy(site_id, proc_id):
    return {"hold_ttl_seconds": 600, "cooldown_seconds": 86400, **POLICY.get((site_id, proc_id), {})}


class Err(Exception):
    def __init__(self, status, code, message, details=None, retry_after=None):
        self.status, self.code, self.message, self.details, self.retry_after = status, code, message, details or {}, retry_after


def field(name, message):
    return Err(422, "invalid_field", message, {"field": name})


def identity(app):
    if not isinstance(app, dict):
        raise field("applicant", "applicant must be an object.")
    doc = app.get("document") or {}
    if doc.get("type") not in DOC:
        raise field("applicant.document.type", "Document type must be agdref, passport or visa.")
    number = re.sub(r"[\s.\-/]", "", str(doc.get("number", ""))).upper()
    if not re.match(DOC[doc["type"]], number):
        raise field("applicant.document.number", f"Invalid {doc['type']} number.")
    try:
        birth = date.fromisoformat(app.get("birth_date", ""))
        assert birth < date.today()
    except Exception:
        raise field("applicant.birth_date", "Birth date must be a past date (YYYY-MM-DD).")
    for name in ("family_name", "given_names", "email"):
        if not str(app.get(name, "")).strip():
            raise field(f"applicant.{name}", f"applicant.{name} is required.")
    if not re.match(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$", app["email"]):
        raise field("applicant.email", "applicant.email is not a valid e-mail address.")
    key = f"{'agdref' if doc['type'] == 'agdref' else 'travel'}|{number}|{birth}"
    return key, {"family_name": app["family_name"].strip(), "given_names": app["given_names"].strip(), "document_type": doc["type"]}


def expire_holds():
    t = now()
    for hold in list(HOLDS.values()):
        if hold["state"] == "active" and hold["expires"] <= t:
            hold["state"] = "expired"
            SLOTS[hold["slot_id"]]["state"] = "quarantined"
            p = policy(SLOTS[hold["slot_id"]]["site_id"], SLOTS[hold["slot_id"]]["procedure_id"])
            COOLDOWN[hold["identity"]] = t + timedelta(seconds=p["cooldown_seconds"])


def check_cooldown(key):
    until = COOLDOWN.get(key)
    if until and until > now():
        raise Err(429, "cooldown", "This identity is in a cooldown period.", retry_after=int((until - now()).total_seconds()) + 1)


def public_slot(s):
    return {k: s[k] for k in ("slot_id", "site_id", "procedure_id", "starts_at", "ends_at")}


def new_hold(slot_id, app):
    key, person = identity(app)
    slot = SLOTS.get(slot_id)
    if not slot:
        raise Err(404, "not_found", "Unknown slot.")
    check_cooldown(key)
    if any(h["identity"] == key and h["state"] == "active" for h in HOLDS.values()):
        raise Err(409, "identity_has_active_hold", "This identity already holds a slot.")
    if slot["state"] != "open":
        raise Err(409, "slot_unavailable", "The slot is no longer available.")
    ttl = policy(slot["site_id"], slot["procedure_id"])["hold_ttl_seconds"]
    hold = {"hold_id": "h_" + secrets.token_hex(8), "hold_token": secrets.token_urlsafe(24), "slot_id": slot_id,
            "identity": key, "person": person, "expires": now() + timedelta(seconds=ttl), "state": "active"}
    HOLDS[hold["hold_id"]] = hold
    slot["state"] = "held"
    return hold


def hold_view(h):
    return {"hold_id": h["hold_id"], "hold_token": h["hold_token"], "expires_at": iso(h["expires"]), "slot": public_slot(SLOTS[h["slot_id"]])}


def booking_view(b, token=True):
    out = {"booking_id": b["booking_id"], "reference": b["reference"], "status": b["status"], "slot": public_slot(SLOTS[b["slot_id"]]), **b["person"]}
    if token:
        out["booking_token"] = b["booking_token"]
    return out


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def cors(self):
        origin = self.headers.get("Origin")
        if origin in ("http://127.0.0.1:8080", "http://localhost:8080") or (origin and re.match(r"^http://(127\.0\.0\.1|localhost):\d+$", origin)):
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")
            self.send_header("Access-Control-Expose-Headers", "Retry-After")

    def send(self, status, body=None, retry_after=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.cors()
        if body is not None:
            self.send_header("Content-Type", "application/json")
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_OPTIONS(self):
        self.send_response(204)
        self.cors()
        self.send_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Content-Type, X-Hold-Token, X-Booking-Token, X-Request-Token, Authorization")
        self.send_header("Access-Control-Max-Age", "600")
        self.end_headers()

    def body(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            data = json.loads(raw)
            assert isinstance(data, dict)
            return data
        except Exception:
            raise Err(400, "malformed_request", "The body is not a JSON object.")

    def handle_any(self, method):
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        try:
            with LOCK:
                expire_holds()
                status, out = self.route(method, parts, parse_qs(url.query))
            self.send(status, out)
        except Err as e:
            self.send(e.status, {"error": {"code": e.code, "message": e.message, "details": e.details}}, e.retry_after)

    do_GET = lambda self: self.handle_any("GET")  # noqa: E731
    do_POST = lambda self: self.handle_any("POST")  # noqa: E731
    do_PUT = lambda self: self.handle_any("PUT")  # noqa: E731
    do_DELETE = lambda self: self.handle_any("DELETE")  # noqa: E731

    def route(self, method, parts, q):
        if parts == ["health"]:
            return 200, {"status": "ok"}
        if parts == ["sites"] and method == "GET":
            return 200, {"sites": SITES}
        if len(parts) == 3 and parts[0] == "sites" and parts[2] == "slots":
            proc = (q.get("procedure") or [""])[0]
            frm = datetime.fromisoformat(q["from"][0]) if "from" in q else now()
            to = datetime.fromisoformat(q["to"][0]) if "to" in q else frm + timedelta(days=30)
            limit = int((q.get("limit") or ["50"])[0])
            offset = int((q.get("cursor") or ["0"])[0])
            found = sorted((s for s in SLOTS.values() if s["site_id"] == parts[1] and s["procedure_id"] == proc and s["state"] == "open"
                            and frm <= datetime.fromisoformat(s["starts_at"]) < to and datetime.fromisoformat(s["starts_at"]) > now()),
                           key=lambda s: s["starts_at"])
            page = found[offset:offset + limit]
            return 200, {"slots": [public_slot(s) for s in page], "next_cursor": str(offset + limit) if len(found) > offset + limit else None}
        if parts == ["holds"] and method == "POST":
            b = self.body()
            return 201, hold_view(new_hold(b.get("slot_id"), b.get("applicant")))
        if len(parts) == 2 and parts[0] == "holds" and method == "DELETE":
            h = HOLDS.get(parts[1])
            if not h or not secrets.compare_digest(h["hold_token"], self.headers.get("X-Hold-Token", "")):
                raise Err(404, "not_found", "Unknown hold.")
            if h["state"] == "active":
                h["state"] = "released"
                SLOTS[h["slot_id"]]["state"] = "quarantined"
                COOLDOWN[h["identity"]] = now() + timedelta(seconds=policy(SLOTS[h["slot_id"]]["site_id"], SLOTS[h["slot_id"]]["procedure_id"])["cooldown_seconds"])
            return 204, None
        if parts == ["bookings"] and method == "POST":
            b = self.body()
            h = HOLDS.get(b.get("hold_id"))
            if not h or not secrets.compare_digest(h["hold_token"], str(b.get("hold_token", ""))):
                raise Err(404, "not_found", "Unknown hold.")
            if h.get("booking_id"):
                return 201, booking_view(BOOKINGS[h["booking_id"]])
            if h["state"] != "active":
                raise Err(410, "hold_expired", "The hold has expired.")
            bk = {"booking_id": "b_" + secrets.token_hex(8), "booking_token": secrets.token_urlsafe(24), "slot_id": h["slot_id"],
                  "reference": secrets.token_hex(4).upper(), "status": "booked", "person": h["person"], "identity": h["identity"]}
            BOOKINGS[bk["booking_id"]] = bk
            h["state"], h["booking_id"] = "confirmed", bk["booking_id"]
            SLOTS[h["slot_id"]]["state"] = "booked"
            return 201, booking_view(bk)
        if len(parts) == 2 and parts[0] == "bookings":
            bk = BOOKINGS.get(parts[1])
            if not bk:
                raise Err(404, "not_found", "Unknown booking.")
            if not secrets.compare_digest(bk["booking_token"], self.headers.get("X-Booking-Token", "")):
                raise Err(401, "unauthorized", "Bad booking token.")
            if method == "GET":
                return 200, booking_view(bk, token=False)
            if method == "DELETE":
                if bk["status"] == "booked":
                    bk["status"] = "cancelled"
                    slot = SLOTS[bk["slot_id"]]
                    slot["state"] = "quarantined"
                    COOLDOWN[bk["identity"]] = now() + timedelta(seconds=policy(slot["site_id"], slot["procedure_id"])["cooldown_seconds"])
                return 204, None
        if parts == ["requests"] and method == "POST":
            b = self.body()
            key, person = identity(b.get("applicant"))
            r = {"request_id": "r_" + secrets.token_hex(8), "request_token": secrets.token_urlsafe(24), "status": "waiting",
                 "site_id": b.get("site_id"), "procedure_id": b.get("procedure_id"), "from": b.get("from"), "to": b.get("to"),
                 "identity": key, "person": person, "hold_id": None}
            REQUESTS[r["request_id"]] = r
            return 201, {"request_id": r["request_id"], "request_token": r["request_token"], "status": "waiting"}
        if len(parts) == 2 and parts[0] == "requests":
            r = REQUESTS.get(parts[1])
            if not r or not secrets.compare_digest(r["request_token"], self.headers.get("X-Request-Token", "")):
                raise Err(404, "not_found", "Unknown request.")
            if method == "DELETE":
                r["status"] = "withdrawn"
                return 204, None
            out = {k: r[k] for k in ("request_id", "status", "site_id", "procedure_id", "from", "to")}
            h = HOLDS.get(r["hold_id"]) if r["hold_id"] else None
            if h and h.get("booking_id"):
                out["status"] = "booked"
            elif h and h["state"] == "active":
                out["hold"] = hold_view(h)
            return 200, out
        if len(parts) == 6 and parts[0] == "staff" and parts[5] == "policy" and method == "PUT":
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                raise Err(401, "unauthorized", "Staff token required.")
            POLICY.setdefault((parts[2], parts[4]), {}).update(self.body())
            return 200, policy(parts[2], parts[4])
        if len(parts) == 6 and parts[0] == "staff" and parts[5] == "draws" and method == "POST":
            offered = 0
            for r in REQUESTS.values():
                if r["status"] == "waiting" and r["site_id"] == parts[2] and r["procedure_id"] == parts[4]:
                    free = next((s for s in sorted(SLOTS.values(), key=lambda s: s["starts_at"])
                                 if s["site_id"] == parts[2] and s["procedure_id"] == parts[4] and s["state"] == "open"), None)
                    if free:
                        free["state"] = "held"
                        h = {"hold_id": "h_" + secrets.token_hex(8), "hold_token": secrets.token_urlsafe(24), "slot_id": free["slot_id"],
                             "identity": r["identity"], "person": r["person"], "expires": now() + timedelta(seconds=600), "state": "active"}
                        HOLDS[h["hold_id"]] = h
                        r["hold_id"], r["status"] = h["hold_id"], "offered"
                        offered += 1
            return 200, {"offered": offered}
        raise Err(404, "not_found", "No such route.")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    seed()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"fake fairslot API on http://127.0.0.1:{args.port} READY", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
