"""Logs never carry personal data; metrics are EMF in namespace fairslot; importing is free."""
import json
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _json_lines(stdout):
    lines = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_importing_observability_does_not_import_powertools(py):
    code = textwrap.dedent(
        f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location(
            "observability", {str(ROOT / "chalicelib" / "platform" / "observability.py")!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded = sorted(m for m in sys.modules if m.startswith(("aws_lambda_powertools", "aws_xray_sdk", "boto")))
        print(loaded)
        assert not loaded, loaded
        """
    )
    result = py(code)
    assert result.returncode == 0, result.stderr + result.stdout


def test_redact_hides_personal_keys_at_any_depth_and_emails_anywhere():
    from chalicelib.platform.observability import redact

    record = {
        "message": "hold refused for Jean.Dupont+x@example.fr, see ops",
        "applicant": {"family_name": "Dupont"},
        "nested": [{"document": {"type": "passport", "number": "12AB34567"}}],
        "Birth-Date": "1990-01-02",
        "given_names": "Jean",
        "phone": "+33600000000",
        "X-Api-Key": "secret-key",
        "slot_id": "slot-1",
        "site": "herault",
        "count": 3,
    }
    out = redact(record)
    text = json.dumps(out)
    for leaked in ("Dupont", "Jean", "12AB34567", "1990-01-02", "+33600000000", "secret-key",
                   "example.fr"):
        assert leaked not in text
    assert out["slot_id"] == "slot-1" and out["site"] == "herault" and out["count"] == 3
    assert out["message"] == "hold refused for ***, see ops"
    assert record["given_names"] == "Jean"  # the input is not mutated


def test_logger_output_never_contains_personal_data(py):
    code = textwrap.dedent(
        """
        from chalicelib.platform import observability
        log = observability.logger()
        log.info({"event": "hold", "applicant": {"email": "a.b@example.com", "family_name": "Martin"}})
        log.info("confirm for %s", "someone@mail.example.org")
        log.info("booked", extra={"birth_date": "1980-05-06", "given_names": "Ana", "site": "s1"})
        log.append_keys(email="kept@example.net")
        log.warning("appended keys too")
        try:
            raise ValueError("bad document 998877 for x@y.fr")
        except ValueError:
            log.exception("boom")
        """
    )
    result = py(code)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for leaked in ("a.b@example.com", "Martin", "someone@mail", "1980-05-06", "Ana",
                   "kept@example.net", "x@y.fr"):
        assert leaked not in out, out
    lines = _json_lines(out)
    assert len(lines) == 5
    assert all(line["service"] == "fairslot" for line in lines)
    assert lines[2]["site"] == "s1"


APP = textwrap.dedent(
    """
    import json
    from chalice import Chalice
    from chalice.test import Client
    from chalicelib.platform import observability

    app = Chalice(app_name="fairslot")
    observability.install(app)

    @app.route("/holds", methods=["POST"])
    def create_hold():
        observability.metric("HoldCreated", site="herault")
        observability.metric("HoldCreated", site="herault")
        observability.metric("HoldsPerIpLimited")
        observability.logger().info("created", extra={"applicant": app.current_request.json_body})
        return {"ok": True}

    @app.route("/boom")
    def boom():
        observability.metric("StorageUnavailable")
        raise RuntimeError("crash while mailing z@leak.example")

    with Client(app) as client:
        body = json.dumps({"email": "p@example.com", "family_name": "Nguyen"})
        r1 = client.http.post("/holds", headers={"content-type": "application/json"}, body=body)
        r2 = client.http.get("/boom")
        print("STATUS", r1.status_code, r2.status_code)
    """
)


def test_middleware_flushes_emf_metrics_per_invocation_and_logs_requests(py):
    result = py(APP)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "STATUS 200 500" in out
    for leaked in ("p@example.com", "Nguyen", "z@leak.example"):
        assert leaked not in out + result.stderr
    lines = _json_lines(out)
    emf = [line for line in lines if "_aws" in line]
    by_name = {}
    for blob in emf:
        directive = blob["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "fairslot"
        assert ["service"] in directive["Dimensions"]
        for m in directive["Metrics"]:
            by_name[m["Name"]] = (blob, directive)
    assert set(by_name) == {"HoldCreated", "HoldsPerIpLimited", "StorageUnavailable"}
    blob, directive = by_name["HoldCreated"]
    assert directive["Dimensions"] == [["service"], ["service", "site"]]
    assert blob["site"] == "herault" and blob["HoldCreated"] == [1.0, 1.0]
    assert by_name["HoldsPerIpLimited"][1]["Dimensions"] == [["service"]]
    # one access line per HTTP request; the crash is logged as JSON by the same logger
    access = [line for line in lines if line.get("message") == "request"]
    assert [(a["route"], a["status_code"]) for a in access] == [("/holds", 200), ("/boom", 500)]
    assert all(a["cold_start"] is (i == 0) for i, a in enumerate(access))


def test_metrics_carry_the_stage_dimension_in_aws(py):
    result = py(APP, env={"FAIRSLOT_STAGE": "prod"})
    assert result.returncode == 0, result.stderr
    emf = [line for line in _json_lines(result.stdout) if "_aws" in line]
    dims = {m["Name"]: b["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
            for b in emf for m in b["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert dims["HoldCreated"] == [["service", "stage"], ["service", "stage", "site"]]
    assert dims["StorageUnavailable"] == [["service", "stage"]]
    assert all(b["stage"] == "prod" for b in emf)


def test_a_failing_scheduled_run_is_counted_and_still_fails(py):
    code = textwrap.dedent(
        """
        from chalice import Chalice, Rate
        from chalice.test import Client
        from chalicelib.platform import observability

        app = Chalice(app_name="fairslot")
        observability.install(app)

        @app.schedule(Rate(5, unit=Rate.MINUTES))
        def sweep(event):
            observability.metric("HoldExpired", 3)
            raise RuntimeError("sweep failed")

        with Client(app) as client:
            try:
                client.lambda_.invoke("sweep", client.events.generate_cw_event(
                    source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
            except RuntimeError:
                print("RAISED")
        """
    )
    result = py(code, env={"FAIRSLOT_STAGE": "prod"})
    assert result.returncode == 0, result.stderr
    assert "RAISED" in result.stdout
    emf = [line for line in _json_lines(result.stdout) if "_aws" in line]
    names = {m["Name"] for b in emf for m in b["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {"HoldExpired", "ScheduledRunFailed"}
    failed = next(b for b in emf if "ScheduledRunFailed" in b)
    assert ["service", "stage"] in failed["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


def test_metric_never_raises_and_outside_a_request_is_written_at_once(py):
    code = textwrap.dedent(
        """
        from chalicelib.platform import observability
        observability.metric(None)
        observability.metric("Bad", "not a number")
        observability.metric("Bad", object())
        observability.metric("DrawRun", 2, site="herault", email="x@example.com", procedure=None)
        """
    )
    result = py(code)
    assert result.returncode == 0, result.stderr
    lines = _json_lines(result.stdout)
    assert len(lines) == 1
    assert lines[0]["DrawRun"] == [2.0]
    assert lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"], ["service", "site"]]
    assert "x@example.com" not in result.stdout


def test_locally_metrics_print_nothing(py):
    result = py(APP, env={"FAIRSLOT_LOCAL": "1"})
    assert result.returncode == 0, result.stderr
    assert not [line for line in _json_lines(result.stdout) if "_aws" in line]


def test_the_xray_sdk_is_not_imported_when_tracing_is_disabled(py):
    code = APP + textwrap.dedent(
        """
        import sys
        assert not [m for m in sys.modules if m.startswith("aws_xray_sdk")]
        """
    )
    result = py(code)
    assert result.returncode == 0, result.stderr
