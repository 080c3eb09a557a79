"""Proven identities (SPEC R10) against the REAL API over HTTP (the local stack on free loopback
ports): what fake identities, an attacker who knows a victim's number and birth date, and a
registry that cannot answer get; and what the code step costs an honest applicant. Prints a
markdown table and the command that printed it.

    .venv/bin/python bench/proofs.py [--fakes 50] [--honest 30]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.storm import STAFF_SECRET, start_stack  # noqa: E402

os.environ.setdefault("STAFF_JWT_SECRET", STAFF_SECRET)
from tests.support import Api, code_in, register  # noqa: E402

RENEWAL, OTHER = "renewal", "first_application"
POLICY = {"allocation": "fcfs", "max_holds_per_ip_per_hour": 1_000_000, "hold_ttl_seconds": 2, "cooldown_seconds": 86400}


def person(n, email=None, family=None):
    return {"document": {"type": "agdref", "number": f"{n:010d}"}, "birth_date": "1985-06-15",
            "family_name": family or f"Person{n}", "given_names": "Test", "email": email or f"person{n}@example.org"}


def site(api, name, procedure=RENEWAL, slots=20, **policy):
    api.create_site(site_id=name, procedures=(procedure,))
    api.set_policy(name, procedure, **{**POLICY, **policy})
    api.schedule(name, procedure, slot_minutes=180 // max(1, slots // 4), counters=4, opens="09:00", closes="12:00")
    api.site = name
    return [s["slot_id"] for s in api.slots(name, procedure)]


def fakes_against_the_registry(api, fakes):
    """50 identities the registry does not know: codes asked, holds and requests they get."""
    slots = site(api, "fakes")
    got = 0
    for n in range(fakes):
        fake = person(900_000 + n, email=f"fake{n}@mailinator.example")
        asked = api.call("POST", "/verifications", {"site_id": "fakes", "procedure_id": RENEWAL, "applicant": fake},
                         {"X-Forwarded-For": f"10.9.{n // 250}.{n % 250}"}, prove=False)
        assert asked.status == 202, asked
        got += api.hold(slots[n % len(slots)], fake, ip=f"10.9.{n // 250}.{n % 250}", prove=False).status == 201
        body = {"site_id": "fakes", "procedure_id": RENEWAL, "applicant": fake, "from": date.today().isoformat(),
                "to": (date.today() + timedelta(days=30)).isoformat(), "identity_token": "guessed" * 6}
        got += api.call("POST", "/requests", body, prove=False).status == 201
    return f"| registry: {fakes} fake identities (codes asked, holds and requests tried) | holds + requests obtained | {got} | 0 |"


def griefing(api):
    """The four ways an attacker with only the victim's number and birth date used to lock them out."""
    victim = person(4242, email="victim@example.org", family="Benali")
    register(victim)
    attacker = {**victim, "family_name": "Trafiquant", "email": "attacker@example.net"}
    near = site(api, "grief")
    api.create_site(site_id="grief-far", procedures=(RENEWAL,))
    api.set_policy("grief-far", RENEWAL, **POLICY)
    api.schedule("grief-far", RENEWAL, start_in_days=21)
    far = [s["slot_id"] for s in api.slots("grief-far", RENEWAL)]
    attempts = [
        api.hold(far[0], attacker, prove=False),  # (1) hold at another site, then release; (2) hold and walk away
        api.call("POST", "/requests", {"site_id": "grief", "procedure_id": RENEWAL, "applicant": attacker,
                                       "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()},
                 prove=False),  # (3) a standby request in the victim's name
        api.hold(far[1], {**attacker, "email": "attacker@example.net"}, prove=False),  # (4) a booking weeks out, attacker's e-mail
    ]
    through = sum(a.status in (200, 201) for a in attempts)
    time.sleep(2.5)  # any hold the attacker had would have lapsed into a cooldown
    locks = 0
    held = api.hold(near[0], victim)
    locks += held.status != 201
    if held.status == 201:
        locks += api.confirm(held.body).status != 201
    return (f"| registry: the four griefing paths with only the victim's number and birth date | attacker attempts through / "
            f"locks imposed on the victim | {through} / {locks} | 0 / 0 |")


def contact_fakes_from_one_ip(api, fakes):
    """contact mode: 50 identities, each with a mailbox the attacker reads, from one IP."""
    slots = site(api, "contact", procedure=OTHER, identity_check="contact", max_holds_per_ip_per_hour=20)
    api.site = "contact"
    tokens = holds = 0
    for n in range(fakes):
        fake = {**person(800_000 + n, email=f"box{n}@attacker.example"), "document": {"type": "passport", "number": f"X{n:07d}"}}
        token = api.prove(fake, "contact", OTHER, ip="203.0.113.50")
        tokens += token is not None
        if token:
            holds += api.call("POST", "/holds", {"slot_id": slots[n % len(slots)], "applicant": fake, "identity_token": token},
                              {"X-Forwarded-For": "203.0.113.50"}).status == 201
    return (f"| contact: {fakes} identities with their own mailboxes from one IP (default limits) | identity tokens / holds | "
            f"{tokens} / {holds} | what the per-IP limits let through |")


def registry_down(api, engine_url, attempts=50):
    """The registry cannot answer: every code asked and every partner hold is a 503, nothing written."""
    import boto3

    slots = site(api, "down")
    partner = api.create_partner(name="Association test", daily_quota=1000, sites=("down",))
    path = os.environ["IDENTITY_REGISTRY_FILE"]
    table = boto3.resource("dynamodb", endpoint_url=engine_url, region_name="eu-west-3", aws_access_key_id="local",
                           aws_secret_access_key="local").Table("fairslot-bench-identities")
    before = table.scan(Select="COUNT")["Count"]
    shutil.move(path, path + ".away")
    try:
        statuses = []
        for n in range(attempts):
            who = person(700_000 + n)
            statuses.append(api.call("POST", "/verifications", {"site_id": "down", "procedure_id": RENEWAL, "applicant": who},
                                     prove=False).status)
            statuses.append(api.call("POST", "/partner/holds", {"slot_id": slots[n % len(slots)], "applicant": who},
                                     api.partner_headers(partner), prove=False).status)
    finally:
        shutil.move(path + ".away", path)
    changed = table.scan(Select="COUNT")["Count"] - before
    return (f"| registry down: {attempts} codes asked and {attempts} partner holds | 503s / identity items written | "
            f"{statuses.count(503)} of {len(statuses)} / {changed} | all / 0 |")


def cost_to_the_honest(api, n):
    """Round trips and time of a hold with its code step (ask, read the code, send it, hold),
    against a hold by someone whose token was obtained before."""
    slots = site(api, "honest", slots=n * 2 + 4)
    with_code, alone = [], []
    for i in range(n):
        first, second = person(600_000 + i), person(650_000 + i)
        headers = {"X-Forwarded-For": f"10.7.{i // 250}.{i % 250}"}
        register(first)
        ready = api.prove(second, "honest", RENEWAL, ip=headers["X-Forwarded-For"])
        t = time.perf_counter()
        asked = api.call("POST", "/verifications", {"site_id": "honest", "procedure_id": RENEWAL, "applicant": first}, headers,
                         prove=False)
        code = code_in(api.outbox, asked.body["verification_id"])
        token = api.call("POST", f"/verifications/{asked.body['verification_id']}", {"code": code}, headers).body["identity_token"]
        held = api.call("POST", "/holds", {"slot_id": slots[2 * i], "applicant": first, "identity_token": token}, headers)
        with_code.append(time.perf_counter() - t)
        assert held.status == 201, held
        t = time.perf_counter()
        other = api.call("POST", "/holds", {"slot_id": slots[2 * i + 1], "applicant": second, "identity_token": ready}, headers)
        alone.append(time.perf_counter() - t)
        assert other.status == 201, other

    def p(values, q):
        return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000

    return (f"| honest applicant: {n} holds over HTTP, code step included vs a hold alone | round trips; p50 / p95 ms | "
            f"3 vs 1; {p(with_code, .5):.0f} / {p(with_code, .95):.0f} vs {p(alone, .5):.0f} / {p(alone, .95):.0f} "
            f"(mean {statistics.mean(with_code) * 1000:.0f} vs {statistics.mean(alone) * 1000:.0f}) | the person's reading time not counted |")


def main():
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fakes", type=int, default=50)
    parser.add_argument("--honest", type=int, default=30)
    args = parser.parse_args()
    # The default limits on codes (20 an hour per IP, 5 per identity): the rows use one address per fake where they must.
    proc, base, engine_url, _pid = start_stack(VERIFICATION_MAX_PER_IP_PER_HOUR="20", VERIFICATION_MAX_PER_IDENTITY_PER_HOUR="5")
    print("| scenario | measure | result | target |")
    print("| --- | --- | --- | --- |")
    try:
        api = Api(base, staff_secret=STAFF_SECRET)
        for row in (fakes_against_the_registry, griefing, contact_fakes_from_one_ip):
            print(row(api, args.fakes) if row is not griefing else row(api))
        print(registry_down(api, engine_url, args.fakes))
        print(cost_to_the_honest(api, args.honest))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"\n(.venv/bin/python bench/proofs.py --fakes {args.fakes} --honest {args.honest})")


if __name__ == "__main__":
    main()
