"""Schemathesis fuzzes every operation of GET /openapi.json over HTTP against the local stack, with
staff and partner credentials: no 5xx, every answer's status documented and its body as documented.

Bounded (a few examples per operation, one worker: two raced inside hypothesis) so that the run stays within a minute or two
on 2 cores; the summary is kept in .e2e-schemathesis.log. Runs after the other e2e files (file
order): what it creates (random sites, partners) cannot disturb them."""
import os
import subprocess
import sys
import tempfile

import pytest

from tests.e2e.conftest import ROOT, STARTUP_LINES

pytestmark = pytest.mark.e2e
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"
MAX_EXAMPLES = os.environ.get("FAIRSLOT_FUZZ_EXAMPLES", "8")


def test_every_operation_holds_its_contract_under_fuzzing(http, stack):
    staff = http.staff_headers()["Authorization"]
    http.create_site(http.site)  # the site the partner's key may act on (R11)
    partner = http.call("POST", "/staff/partners", {"name": "Schemathesis", "daily_quota": 100_000, "sites": [http.site]}, http.staff_headers())
    assert partner.status == 201, partner
    command = [
        os.path.join(os.path.dirname(sys.executable), "schemathesis"), "run", f"{stack}/openapi.json",
        "--checks", CHECKS, "--max-examples", MAX_EXAMPLES, "--workers", "1", "--max-failures", "50",
        "--request-timeout", "30", "--no-color", "--warnings", "off",
        "-H", f"Authorization: {staff}", "-H", f"x-api-key: {partner.body['api_key']}",
    ]
    # In a scratch folder: schemathesis keeps a cache (.schemathesis/) where it runs.
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tempfile.mkdtemp(prefix="fairslot-fuzz-"))
    with open(os.path.join(ROOT, ".e2e-schemathesis.log"), "w") as log:
        log.write(run.stdout + run.stderr)
    summary = run.stdout[run.stdout.find("SUMMARY"):] if "SUMMARY" in run.stdout else run.stdout[-4000:]
    assert run.returncode == 0, f"schemathesis found failures (full output in .e2e-schemathesis.log):\n{run.stdout[-12000:]}"
    assert "Tested: " in summary and "Selected: " in summary, summary


def test_unknown_routes_and_methods_answer_in_the_envelope_over_http(http):
    """chalice local, patched like API Gateway's responses (devlocal/api_server.py)."""
    for method, path, status, code in [("GET", "/no/such/route", 404, "not_found"), ("PATCH", "/sites", 405, "method_not_allowed"),
                                       ("TRACE", "/health", 405, "method_not_allowed")]:
        reply = http.call(method, path)
        assert (reply.status, reply.code) == (status, code), (method, path, reply)


def test_the_stack_prints_two_next_steps_that_work(http, stack):
    """`make run` ends with a curl to try and where to look next (README: Quick start)."""
    steps = STARTUP_LINES[STARTUP_LINES.index("next steps:") + 1:STARTUP_LINES.index("READY")]
    assert len(steps) == 2 and steps[0].strip() == f"curl {stack}/sites", steps
    assert http.call("GET", "/sites").status == 200
    assert "/openapi.json" in steps[1], steps  # started with --no-web here: the API reference instead of the web page
