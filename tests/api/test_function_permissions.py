"""Each function's real AWS calls fit its own policy in infra/iam.py (docs/deploy.md, "Least privilege").

moto does not enforce IAM, so a least-privilege policy could silently miss a permission that a
later change of the code needs. Here each function (the API, the partner authorizer, the stream handler,
each schedule) runs on the in-process engine while botocore records every call it makes; each
call is turned into the IAM action, resource ARN and DynamoDB leading key AWS would evaluate,
and checked against that function's statements (Allow only; no Deny is used)."""
import fnmatch
import json
import re
import sys
from datetime import date, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from chalicelib import storage
from chalicelib.platform import clock, config
from chalicelib.storage.models import Booking
from chalicelib.usecases import notify
from devlocal.streams import BookingsStreamPoller
from tests.support import PROCEDURE, SITE, applicant, at_the_wire

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
import iam  # noqa: E402

ACCOUNT = "arn:aws:{service}:eu-west-3:123456789012:"
SCHEDULED = {"version": "0", "id": "e", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": "2026-12-01T00:00:00Z", "region": "eu-west-3",
             "resources": [], "detail": {}}
# TransactWriteItems is authorised per item, on that item's table.
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


PROJECT = Path(__file__).resolve().parents[2]


def deployed_parameters(stage="dev"):
    """{variable: parameter name} of every `*_PARAM` the deployed functions get (Chalice gives
    the stage's environment to every function), checked to hold no secret itself."""
    chalice = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    env = {**chalice.get("environment_variables", {}), **chalice["stages"][stage].get("environment_variables", {})}
    for functions in (chalice.get("lambda_functions", {}), chalice["stages"][stage].get("lambda_functions", {})):
        for settings in functions.values():
            env.update(settings.get("environment_variables", {}))
    plaintext = [k for k in env if "SECRET" in k and not k.endswith("_PARAM")]
    assert not plaintext, f"a secret in a deployed environment: {plaintext}"
    params = {k: v for k, v in env.items() if k.endswith("_PARAM")}
    assert params and all(v.startswith(f"/fairslot/{stage}/") for v in params.values()), params
    return params


@pytest.fixture
def aws_calls(monkeypatch):
    """Record (service, operation, params) while a function runs; calls still reach the engine.

    Secrets as deployed: no KEY_ROOT and no key ring in the environment, only the `*_PARAM` names of
    .chalice/config.json (for this test's stage), answered here as SSM would, so every parameter a
    function's code path reads is a recorded ssm:GetParameter checked against its policy."""
    from chalicelib.platform import gateway_keys, keys

    seen = []
    stage = config.current().table_prefix.split("-", 1)[1]
    for variable in ("KEY_ROOT", *config.KEY_VARIABLES):
        monkeypatch.delenv(variable, raising=False)
    for variable, name in deployed_parameters().items():
        if variable != "PARTNER_USAGE_PLAN_PARAM":  # partner keys in API Gateway: tests/api/test_partner_gateway.py
            monkeypatch.setenv(variable, name.replace("/fairslot/dev/", f"/fairslot/{stage}/"))
    keys.forget()
    gateway_keys.forget()

    # The draw seeds sealed with KMS, as deployed (answered here: the key's policy is checked in
    # tests/infra/test_package.py, the calls' actions against each function's statements below).
    monkeypatch.setenv("DRAW_SEED_KMS_KEY_ID", DRAW_SEED_KEY_ARN)

    def recording(send, service, operation_name, api_params):
        if recording.on:
            seen.append((service, operation_name, api_params))
        if service == "ssm" and operation_name == "GetParameter":
            return {"Parameter": {"Name": api_params["Name"], "Type": "SecureString", "Value": "from-ssm-" + api_params["Name"]}}
        if service == "kms":
            return _kms_answer(operation_name, api_params)
        return send()

    recording.on = False
    at_the_wire(monkeypatch, recording)

    class Recorder:
        def __enter__(self):
            keys.forget()  # each function is its own process: it fetches what it needs itself
            gateway_keys.forget()
            seen.clear()
            recording.on = True
            return seen

        def __exit__(self, *exc):
            recording.on = False

    yield Recorder()
    keys.forget()
    gateway_keys.forget()


DRAW_SEED_KEY_ARN = "arn:aws:kms:eu-west-3:123456789012:key/draw-seed"


def _kms_answer(operation, params):
    """A stand-in for KMS: the blob carries the context it was sealed for, and opens only with it."""
    context = json.dumps(params["EncryptionContext"], sort_keys=True).encode()
    assert params["KeyId"] == DRAW_SEED_KEY_ARN
    if operation == "Encrypt":
        return {"CiphertextBlob": context + b"\x00" + params["Plaintext"], "KeyId": DRAW_SEED_KEY_ARN}
    sealed_for, _, plain = params["CiphertextBlob"].partition(b"\x00")
    assert operation == "Decrypt" and sealed_for == context
    return {"Plaintext": plain, "KeyId": DRAW_SEED_KEY_ARN}


def _hash_key_names():
    from pynamodb.models import Model

    from chalicelib.storage import models

    names = {}
    for model in vars(models).values():
        if isinstance(model, type) and issubclass(model, Model) and model is not Model:
            names[model.Meta.table_name] = next(a.attr_name for a in model.get_attributes().values() if a.is_hash_key)
            for index in getattr(model, "_indexes", {}).values():
                key = next(a.attr_name for a in index.Meta.attributes.values() if a.is_hash_key)
                names[f"{model.Meta.table_name}/index/{index.Meta.index_name}"] = key
    return names


def _leading_key(table, params, hash_names):
    name = hash_names.get(table + (f"/index/{params['IndexName']}" if params.get("IndexName") else ""))
    for source in ("Key", "Item"):
        if name in (params.get(source) or {}):
            return next(iter(params[source][name].values()))
    condition = params.get("KeyConditionExpression") or ""
    for placeholder, attr in (params.get("ExpressionAttributeNames") or {}).items():
        found = re.search(re.escape(placeholder) + r"\s*=\s*(:\w+)", condition)
        if attr == name and found:
            return next(iter(params["ExpressionAttributeValues"][found.group(1)].values()))
    return None


def _requests(calls, hash_names):
    """[(action, resource ARN, leading key or None)] that IAM evaluates for these calls."""
    out = []
    for service, operation, params in calls:
        if service == "dynamodb":
            out.extend(_dynamodb_requests(operation, params, hash_names))
        elif service == "ssm":
            out.append((f"ssm:{operation}", ACCOUNT.format(service="ssm") + "parameter" + params["Name"], None))
        elif service == "kms":
            out.append((f"kms:{operation}", "<DrawSeedKey.Arn>", None))
        elif service == "lambda":
            out.append((f"lambda:{operation}", "<RunDueDraws.Arn>", None))
        elif service == "sesv2":
            sender = params["FromEmailAddress"]
            out.append(("ses:SendEmail", ACCOUNT.format(service="ses") + "identity/" + sender, None))
        else:
            out.append((f"{service}:{operation}", "?", None))
    return out


def _dynamodb_requests(operation, params, hash_names):
    """One request per item of a transaction or batch, else one for the table (or index)."""
    table_arn = ACCOUNT.format(service="dynamodb") + "table/"
    if operation == "TransactWriteItems":
        requests = []
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            requests.append((f"dynamodb:{TRANSACT[kind]}", table_arn + body["TableName"], _leading_key(body["TableName"], body, hash_names)))
        return requests
    if operation == "TransactGetItems":
        bodies = [item["Get"] for item in params["TransactItems"]]
        return [("dynamodb:GetItem", table_arn + body["TableName"], _leading_key(body["TableName"], body, hash_names)) for body in bodies]
    if operation == "BatchGetItem":
        return [("dynamodb:BatchGetItem", table_arn + table, _leading_key(table, {"Key": key}, hash_names))
                for table, spec in params["RequestItems"].items() for key in spec["Keys"]]
    index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
    return [(f"dynamodb:{operation}", table_arn + params["TableName"] + index, _leading_key(params["TableName"], params, hash_names))]


def _pattern(resource):
    """A statement's resource as a glob: pseudo parameters are any value, MailFrom is the sender."""
    sender = config.current().mail_from
    values = {"MailFrom": sender, "MailFromDomain": sender.split("@")[1]}
    if isinstance(resource, str):
        return resource
    if "Fn::GetAtt" in resource:
        return "<" + ".".join(resource["Fn::GetAtt"]) + ">"
    text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
    return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), "*"), text)


def _allowed(statements, action, arn, leading_key):
    for st in statements:
        if action not in st["Action"]:
            continue
        if not any(fnmatch.fnmatchcase(arn, _pattern(r)) for r in st["Resource"]):
            continue
        condition = st.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
        if condition and not (leading_key is not None and any(fnmatch.fnmatchcase(leading_key, p) for p in condition)):
            continue
        return True
    return False


def assert_fits(function, calls, complete=True):
    """The calls fit the function's policy; `complete`: the scenario exercises the whole function,
    so every parameter the policy lets it read was read."""
    stage = config.current().table_prefix.split("-", 1)[1]  # fairslot-test → the policy as for stage "test"
    statements = iam.policy_document(stage, function)["Statement"]
    requests = _requests(calls, _hash_key_names())
    assert requests, f"{function} made no AWS call: the scenario does not exercise it"
    denied = [r for r in requests if not _allowed(statements, *r)]
    assert not denied, f"{function} needs more than infra/iam.py grants: {json.dumps(denied, indent=1)}"
    # And nothing more: every parameter the policy lets it read, its code path read.
    read = {arn for action, arn, _ in requests if action == "ssm:GetParameter"}
    granted = {_pattern(r) for st in statements if "ssm:GetParameter" in st["Action"] for r in st["Resource"]}
    unread = {g for g in granted if not any(fnmatch.fnmatchcase(arn, g) for arn in read)} - UNREAD_HERE.get(function, set())
    assert not complete or not unread, f"{function} may read parameters its code never reads: {sorted(unread)}"
    return requests


# Granted and read, but not in these scenarios: the partner plan's id, read when a partner is
# created with API Gateway registration on (tests/api/test_partner_gateway.py).
UNREAD_HERE = {"APIHandler": {"arn:*:ssm:*:*:parameter/fairslot/test/partner-usage-plan-id"}}


def test_the_partner_authorizer_only_reads_its_key_lookup(api, aws_calls):
    import app as application

    api.create_site()
    partner = api.create_partner()
    event = {"type": "TOKEN", "authorizationToken": partner["api_key"],
             "methodArn": "arn:aws:execute-api:eu-west-3:123456789012:abc/api/GET/partner/bookings"}
    with aws_calls as calls:
        answer = application.partner_key(event, None)
    assert answer["principalId"] == partner["partner_id"]
    requests = assert_fits("PartnerKey", calls)
    assert {action for action, _, _ in requests} == {"dynamodb:GetItem"}


def test_the_stream_handler_fits_its_policy(api, aws_calls, monkeypatch):
    import app as application

    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1))
    api.cancel(booking)
    client = boto3.client("sesv2", region_name="eu-west-3")
    # As in AWS: no outbox, so notify sends through SES (here the stubbed client).
    monkeypatch.setenv("FAIRSLOT_LOCAL", "0")
    monkeypatch.delenv("OUTBOX_DIR")
    monkeypatch.setattr(notify, "_ses", client)
    from chalicelib.usecases import site_catalog

    site_catalog.forget_cached()  # a cold function reads the catalog
    poller = BookingsStreamPoller(application.bookings_stream, Booking.Meta.table_name)
    arn, records = poller._records()
    with Stubber(client) as ses:
        for _ in records:
            ses.add_response("send_email", {"MessageId": "m"}, {"FromEmailAddress": ANY, "Destination": ANY, "Content": ANY})
        with aws_calls as calls:
            application.bookings_stream({"Records": [poller._lambda_record(arn, r) for r in records]}, None)
        ses.assert_no_pending_responses()
    requests = assert_fits("BookingsStream", calls)
    assert ("ses:SendEmail" in {a for a, _, _ in requests}) and any(a.startswith("dynamodb:") for a, _, _ in requests)


def test_the_reminder_schedule_fits_its_policy(api, aws_calls):
    import app as application

    slots = api.ready_site()
    api.book(slots[0]["slot_id"], applicant(1))
    clock.advance(24 * 3600)  # the appointment is tomorrow
    from chalicelib.usecases import site_catalog

    site_catalog.forget_cached()
    with aws_calls as calls:
        application.send_reminders(SCHEDULED, None)
    requests = assert_fits("SendReminders", calls)
    assert "dynamodb:UpdateItem" in {a for a, _, _ in requests}


def test_the_signal_metrics_schedule_fits_its_policy(api, aws_calls):
    import app as application

    slots = api.ready_site()
    api.hold(slots[0]["slot_id"], applicant(1), ip="192.0.2.7")
    with aws_calls as calls:
        application.publish_signal_metrics(SCHEDULED, None)
    assert_fits("PublishSignalMetrics", calls)


def test_the_draw_schedule_fits_its_policy(api, aws_calls):
    import app as application

    api.create_site()
    api.set_policy(allocation="draw", offer_ttl_seconds=600, draw_interval_seconds=60)
    api.schedule()
    for n in (1, 2):
        body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(n),
                "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
        assert api.call("POST", "/requests", body).status == 201
    from chalicelib.platform import keys
    from chalicelib.usecases import site_catalog

    site_catalog.forget_cached()
    keys.forget()
    clock.advance(120)
    with aws_calls as calls:
        application.run_due_draws(SCHEDULED, None)
    assert any(d.status == "run" for d in storage.draws_of(SITE, PROCEDURE))
    requests = assert_fits("RunDueDraws", calls)
    assert {"dynamodb:UpdateItem", "kms:Decrypt", "kms:Encrypt"} <= {a for a, _, _ in requests}


def test_the_api_function_fits_its_policy(api, aws_calls, monkeypatch):
    """The API's policy is broad (every table), but not Scan, not another stage's tables, not SES;
    it reads the keys of identities, slot ids, links, offers and cursors, each its own parameter.
    As deployed, a staff-run draw runs in the draw function (its calls are not the API's)."""
    import app as application
    from chalicelib.platform import draw_function, keys

    def invoke(payload):  # another process: what it reads and caches is its own
        start = len(calls)
        keys.forget()
        answer = json.loads(json.dumps(application.run_due_draws({**SCHEDULED, **payload}, None)))
        keys.forget()
        del calls[start:]
        return answer

    monkeypatch.setenv("DRAW_FUNCTION_NAME", "fairslot-test-RunDueDraws")
    monkeypatch.setattr(draw_function, "invoke", invoke)
    with aws_calls as calls:
        slots = api.ready_site()  # slot ids
        booking = api.book(slots[0]["slot_id"], applicant(1))  # identity keys
        api.call("GET", f"/sites/{SITE}/slots")
        page = api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=1")  # cursors
        api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=1&cursor={page.body['next_cursor']}")
        assert api.call("GET", f"/bookings/{booking['booking_id']}", headers={"X-Booking-Token": "not-this-one"}).status == 401  # links
        api.call("GET", f"/stats/{SITE}")
        api.call("GET", f"/staff/sites/{SITE}/bookings?date={slots[0]['starts_at'][:10]}", headers=api.staff_headers())
        api.call("GET", f"/staff/slots/{slots[0]['slot_id']}/history", headers=api.staff_headers())
        api.cancel(booking)
        api.call("POST", f"/staff/slots/{slots[1]['slot_id']}/close", headers=api.staff_headers())
        partner = api.create_partner()
        api.call("GET", "/partner/bookings", headers={"x-api-key": partner["api_key"]})
        api.revoke_partner(partner)
        api.call("GET", "/staff/signals", headers=api.staff_headers())
        api.set_policy(allocation="draw", offer_ttl_seconds=600, draw_interval_seconds=60)
        body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(2),
                "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
        filed = api.call("POST", "/requests", body)
        assert filed.status == 201
        drawn = api.call("POST", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=api.staff_headers())
        assert drawn.status == 200 and drawn.body["offered"] == 1, drawn
        offered = api.call("GET", f"/requests/{filed.body['request_id']}", headers={"X-Request-Token": filed.body["request_token"]})
        assert offered.body["hold"]["hold_token"]  # offers
    requests = assert_fits("APIHandler", calls)
    assert {"dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"} <= {a for a, _, _ in requests}


def test_a_staff_run_draw_opens_its_seed_in_the_draw_function_only(api, aws_calls, monkeypatch):
    """As deployed: the API function seals a commitment (Encrypt) and hands a staff-run draw to
    the draw function (lambda:InvokeFunction), which opens the seed (Decrypt); each fits its policy."""
    import app as application
    from chalicelib.platform import draw_function, keys

    in_the_draw_function = []

    def invoke(payload):  # the Lambda invocation: its calls are the draw function's, not the API's
        start = len(calls)
        keys.forget()  # its own process: it fetches its secrets itself
        answer = json.loads(json.dumps(application.run_due_draws({**SCHEDULED, **payload}, None)))
        in_the_draw_function.extend(calls[start:])
        del calls[start:]
        return answer

    monkeypatch.setenv("DRAW_FUNCTION_NAME", "fairslot-test-RunDueDraws")
    monkeypatch.setattr(draw_function, "invoke", invoke)
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(1),
            "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
    with aws_calls as calls:
        api.create_site()
        api.set_policy(allocation="draw", offer_ttl_seconds=600, draw_interval_seconds=60)
        api.schedule()
        assert api.call("POST", "/requests", body).status == 201
        too_soon = api.call("POST", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws", headers=api.staff_headers())
        assert too_soon.code == "draw_too_soon" and in_the_draw_function == []  # refused before any invocation
        ran = api.call("POST", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=api.staff_headers())
        assert ran.status == 200 and ran.body["offered"] == 1, ran
    api_actions = {a for a, _, _ in assert_fits("APIHandler", calls, complete=False)}  # its KMS side only
    assert "kms:Encrypt" in api_actions and "kms:Decrypt" not in api_actions
    assert "kms:Decrypt" in {a for a, _, _ in assert_fits("RunDueDraws", in_the_draw_function)}
