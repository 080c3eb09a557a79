"""The app packages for AWS: `infra/package.py` (`chalice package --merge-template
infra/resources.yaml`, then the stream wiring) gives a template that cfn-lint accepts, with every
table, protection and alarm docs/deploy.md describes, and partner throttling in API Gateway (docs/deploy.md, "Partner API keys").

Offline: nothing is deployed; chalice only needs PyPI to build deployment.zip.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STAGES = ("dev", "prod")
TABLES = {
    "SlotsTable": "slots",
    "HoldsTable": "holds",
    "BookingsTable": "bookings",
    "IdentitiesTable": "identities",
    "CatalogTable": "catalog",
    "CountersTable": "counters",
    "AuditTable": "audit",
    "RequestsTable": "requests",
    "DrawsTable": "draws",
}
ALARMS = {
    "Api5xxRateAlarm",
    "ApiLatencyP99Alarm",
    "ApiHandlerErrorsAlarm",
    "ApiHandlerThrottlesAlarm",
    "ScheduledRunsFailedAlarm",
    "OtherFunctionsErrorsAlarm",
    "DynamoDBThrottlingAlarm",
    "DynamoDBSystemErrorsAlarm",
    "StorageUnavailableAlarm",
    "CooldownRefusalsSpikeAlarm",
    "CheckinMismatchesAlarm",
    "HoldsPerIpLimitedSpikeAlarm",
    "HoldsAbandonedSpikeAlarm",
    "ManyIdentitiesPerIpAlarm",
    "DrawStuckAlarm",
    "NotificationFailuresAlarm",
}
FRAUD_METRICS = {"CooldownRefusals", "CheckinMismatches", "HoldsPerIpLimited", "HoldsAbandoned", "IdentitiesPerIpMax"}
# Left out of the copy that is packaged: heavy, irrelevant, or generated.
IGNORED = shutil.ignore_patterns(
    ".venv", "node_modules", "web", ".git", "out", "var", "test-artifacts", "__pycache__",
    ".pytest_cache", ".hypothesis", "deployments", "deployed",
)


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FAIRSLOT_"))}
    env.update({
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    })
    return env


def _run(args, cwd, timeout=300):
    result = subprocess.run(args, cwd=str(cwd), env=_env(), capture_output=True, text=True,
                            timeout=timeout)
    return result


def package(project, stage):
    out = project / "out" / stage
    result = _run([sys.executable, "infra/package.py", "--stage", stage, str(out)], cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "sam.yaml"


def load(path):
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    assert not matches, matches
    return template


def cfn_lint(*paths):
    # Zero errors and zero warnings; nothing is ignored (see docs/deploy.md, "Validation").
    return _run([str(BIN / "cfn-lint"), "--regions", "eu-west-3", "--", *map(str, paths)], cwd=ROOT)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    project = tmp_path_factory.mktemp("fairslot") / "project"
    shutil.copytree(ROOT, project, ignore=IGNORED)
    templates = {stage: package(project, stage) for stage in STAGES}
    return project, templates


@pytest.fixture(scope="module")
def templates(packaged):
    return {stage: load(path) for stage, path in packaged[1].items()}


def test_cfn_lint_accepts_both_stages(packaged):
    result = cfn_lint(*packaged[1].values())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_every_table_is_protected_and_encrypted(templates, stage):
    resources = templates[stage]["Resources"]
    for logical_id, suffix in TABLES.items():
        props = resources[logical_id]["Properties"]
        assert props["TableName"] == {"Fn::Sub": f"fairslot-${{Stage}}-{suffix}"}
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert props["DeletionProtectionEnabled"] == {"Ref": "TableDeletionProtection"}
        assert resources[logical_id]["DeletionPolicy"] == "Retain"
        if suffix != "counters":  # rate-limit windows: nothing worth restoring
            assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    bookings = resources["BookingsTable"]["Properties"]
    assert bookings["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert {i["IndexName"] for i in bookings["GlobalSecondaryIndexes"]} == {"day", "partner"}
    ttl = {lid: resources[lid]["Properties"].get("TimeToLiveSpecification", {}).get("AttributeName")
           for lid in TABLES}
    assert ttl == {"SlotsTable": None, "HoldsTable": "purge_at", "BookingsTable": "purge_at",
                   "IdentitiesTable": "purge_at", "CatalogTable": None,
                   "CountersTable": "expires_ttl", "AuditTable": "purge_at",
                   "RequestsTable": "purge_at", "DrawsTable": None}


@pytest.mark.parametrize("stage", STAGES)
def test_api_is_throttled_per_partner_and_rate_limited_per_ip(templates, stage):
    resources = templates[stage]["Resources"]
    plan = resources["PartnerUsagePlan"]
    assert plan["Type"] == "AWS::ApiGateway::UsagePlan"
    assert plan["Properties"]["ApiStages"] == [{"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}]
    assert set(plan["Properties"]["Throttle"]) == {"RateLimit", "BurstLimit"}
    acl = resources["WebAcl"]["Properties"]
    assert acl["Scope"] == "REGIONAL"
    rate_rules = [r["Name"] for r in acl["Rules"] if "RateBasedStatement" in r["Statement"]]
    assert rate_rules == ["HoldsPerIp", "RequestsPerIp", "PartnerRequestsPerIp"]
    association = resources["WebAclAssociation"]["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": ["WebAcl", "Arn"]}
    assert "RestAPI.Stage" in json.dumps(association["ResourceArn"])


@pytest.mark.parametrize("stage", STAGES)
def test_partner_routes_are_counted_against_the_usage_plan_key_the_authorizer_names(templates, stage):
    resources = templates[stage]["Resources"]
    swagger = resources["RestAPI"]["Properties"]["DefinitionBody"]
    assert swagger["x-amazon-apigateway-api-key-source"] == "AUTHORIZER"
    partner_methods = {(path, verb): op for path, ops in swagger["paths"].items() if path.startswith("/partner/")
                       for verb, op in ops.items() if verb != "options"}
    assert len(partner_methods) == 6
    for where, op in partner_methods.items():
        assert {"api_key": []} in op["security"] and {"partner_key": []} in op["security"], where
    public = swagger["paths"]["/holds"]["post"]
    assert "security" not in public
    responses = swagger["x-amazon-apigateway-gateway-responses"]
    assert responses["UNAUTHORIZED"]["statusCode"] == 401 and responses["ACCESS_DENIED"]["statusCode"] == 403
    assert responses["AUTHORIZER_FAILURE"]["statusCode"] == 503
    parameter = resources["PartnerUsagePlanIdParameter"]["Properties"]
    assert parameter["Value"] == {"Ref": "PartnerUsagePlan"}
    assert parameter["Name"] == {"Fn::Sub": "/fairslot/${Stage}/partner-usage-plan-id"}
    variables = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["PARTNER_USAGE_PLAN_PARAM"] == f"/fairslot/{stage}/partner-usage-plan-id"


@pytest.mark.parametrize("stage", STAGES)
def test_the_stream_handler_reads_the_stacks_own_bookings_stream(templates, stage):
    """No ARN to look up between two deploys: the event source refers to the table it reads."""
    events = templates[stage]["Resources"]["BookingsStream"]["Properties"]["Events"]
    (event,) = events.values()
    assert event["Type"] == "DynamoDB"
    assert event["Properties"]["Stream"] == {"Fn::GetAtt": ["BookingsTable", "StreamArn"]}
    assert "set-by-infra-package" not in json.dumps(templates[stage])


@pytest.mark.parametrize("stage", STAGES)
def test_alarms_page_the_operations_topic(templates, stage):
    resources = templates[stage]["Resources"]
    assert resources["OperationsTopic"]["Type"] == "AWS::SNS::Topic"
    subscription = resources["OperationsEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Protocol"] == "email"
    alarms = {lid for lid, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == ALARMS
    for lid in alarms:
        assert resources[lid]["Properties"]["AlarmActions"] == [{"Ref": "OperationsTopic"}], lid
    fraud = {resources[lid]["Properties"].get("MetricName") for lid in alarms
             if resources[lid]["Properties"].get("Namespace") == "fairslot"}
    assert FRAUD_METRICS <= fraud
    assert resources["Dashboard"]["Type"] == "AWS::CloudWatch::Dashboard"


@pytest.mark.parametrize("stage", STAGES)
def test_functions_get_256_mb_policy_file_and_stage_settings(templates, stage):
    resources = templates[stage]["Resources"]
    api = resources["APIHandler"]["Properties"]
    assert api["MemorySize"] == 256
    assert api["Timeout"] <= 29  # API Gateway gives up at 29 s
    variables = api["Environment"]["Variables"]
    assert variables["TABLE_PREFIX"] == f"fairslot-{stage}"
    assert variables["FAIRSLOT_STAGE"] == stage
    assert variables["IDENTITY_KEY_PARAM"] == f"/fairslot/{stage}/keys/identities"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "fairslot"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "fairslot"
    assert "STAFF_JWKS_URL" in templates[stage]["Globals"]["Function"]["Environment"]["Variables"]
    # Each role's policy is its function's own (tests/infra/test_package.py, least privilege below).


@pytest.mark.parametrize("stage", STAGES)
def test_each_function_reads_its_secrets_through_ssm_and_only_those_its_role_allows(templates, stage):
    """As deployed: no function's environment holds a secret, only `*_PARAM` names of
    /fairslot/<stage>/ parameters; each role may read nothing but parameters its function is given
    a name for, through its own policy (infra/iam.py); tests/api/test_function_permissions.py runs
    each function with these names and checks that every parameter its code reads is allowed."""
    import re
    sys.path.insert(0, str(ROOT / "infra"))
    import iam

    resources = templates[stage]["Resources"]
    shared = templates[stage]["Globals"]["Function"]["Environment"]["Variables"]
    functions = {lid: r for lid, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == set(iam.function_statements(stage))
    for lid, function in functions.items():
        env = {**shared, **function["Properties"].get("Environment", {}).get("Variables", {})}
        assert not [k for k in env if re.search("SECRET|TOKEN|PASSWORD|KEY$", k) and not k.endswith("_PARAM")], (lid, env)
        names = {v for k, v in env.items() if k.endswith("_PARAM")}
        assert names and all(isinstance(v, str) and v.startswith(f"/fairslot/{stage}/") for v in names), (lid, names)
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        (policy,) = role["Properties"]["Policies"]
        assert policy["PolicyDocument"] == iam.policy_document(stage, lid)
        readable = {r["Fn::Sub"].rsplit(":parameter", 1)[1] for st in policy["PolicyDocument"]["Statement"]
                    if any(a.startswith("ssm:") for a in st["Action"]) for r in st["Resource"]}
        assert readable <= names, (lid, readable - names)
        # KMS only on the draw-seed key (never the SSM parameters' key), Decrypt in the draw function only.
        kms = [(a, r) for st in policy["PolicyDocument"]["Statement"] for a in st["Action"] if a.startswith("kms:") for r in st["Resource"]]
        assert all(r == {"Fn::GetAtt": ["DrawSeedKey", "Arn"]} for _, r in kms), (lid, kms)
        assert lid == "RunDueDraws" or "kms:Decrypt" not in {a for a, _ in kms}, lid
        assert not any(a == "ssm:*" for st in policy["PolicyDocument"]["Statement"] for a in st["Action"])
    key = resources["DrawSeedKey"]["Properties"]["KeyPolicy"]["Statement"]
    # Who may open a seed: the draw function's role alone, named by the pattern of its name (a
    # GetAtt would make the key and the roles depend on each other).
    openers = [st["Condition"]["ArnLike"]["aws:PrincipalArn"] for st in key if "kms:Decrypt" in st["Action"] or "kms:*" in st["Action"]]
    draw_role = functions["RunDueDraws"]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert openers == [[{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-" + draw_role + "-*"}]], openers
    stream = resources[functions["BookingsStream"]["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]["Policies"][0]
    stream_reads = {r["Fn::Sub"].rsplit(":parameter", 1)[1] for st in stream["PolicyDocument"]["Statement"]
                    if "ssm:GetParameter" in st["Action"] for r in st["Resource"]}
    assert stream_reads == {f"/fairslot/{stage}/keys/links"}  # its e-mails' links, and no other key


@pytest.mark.parametrize("stage", STAGES)
def test_a_revoked_staff_token_stops_working_within_a_minute(templates, stage):
    """API Gateway caches a staff authorizer's decision per token: at most 60 s, the revocation
    delay docs/deploy.md states; a partner key is looked up on every request."""
    definitions = templates[stage]["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["securityDefinitions"]
    ttls = {name: d["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"] for name, d in definitions.items()
            if "x-amazon-apigateway-authorizer" in d}
    assert {"staff_agent", "staff_admin", "partner_key"} <= set(ttls), ttls
    assert 0 < ttls["staff_agent"] <= 60 and 0 < ttls["staff_admin"] <= 60 and ttls["partner_key"] == 0, ttls


def test_template_matches_the_pynamodb_models(templates):
    """Every model's table, keys, indexes and TTL attribute exist in the template as declared."""
    code = textwrap.dedent(
        """
        import json
        from pynamodb.models import Model
        from chalicelib.storage import models
        out = {}
        for model in vars(models).values():
            if not (isinstance(model, type) and issubclass(model, Model) and model is not Model):
                continue
            keys = {a.attr_name: ("HASH" if a.is_hash_key else "RANGE")
                    for a in model.get_attributes().values() if a.is_hash_key or a.is_range_key}
            indexes = {i.Meta.index_name: {a.attr_name: ("HASH" if a.is_hash_key else "RANGE")
                                           for a in i.Meta.attributes.values()
                                           if a.is_hash_key or a.is_range_key}
                       for i in model._indexes.values()} if hasattr(model, "_indexes") else {}
            ttl = getattr(models, "TTL_ATTRIBUTES", {}).get(model)
            out[model.__name__] = {"table": model.Meta.table_name, "keys": keys,
                                   "indexes": indexes, "ttl": ttl}
        print(json.dumps(out))
        """
    )
    env = {**_env(), "TABLE_PREFIX": "fairslot-prod", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            timeout=60, cwd=str(ROOT))
    assert result.returncode == 0, result.stderr
    declared = json.loads(result.stdout)
    tables = {}
    for lid in TABLES:
        props = templates["prod"]["Resources"][lid]["Properties"]
        name = props["TableName"]["Fn::Sub"].replace("${Stage}", "prod")
        tables[name] = props
    for model, spec in declared.items():
        assert spec["table"] in tables, f"{model}: table {spec['table']} missing from the template"
        props = tables[spec["table"]]
        assert {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]} == spec["keys"], model
        gsis = {g["IndexName"]: {k["AttributeName"]: k["KeyType"] for k in g["KeySchema"]}
                for g in props.get("GlobalSecondaryIndexes", [])}
        for index, keys in spec["indexes"].items():
            assert gsis.get(index) == keys, f"{model}: index {index}"
        if spec["ttl"]:
            assert props["TimeToLiveSpecification"]["AttributeName"] == spec["ttl"], model


def test_template_needs_only_the_api_handler(tmp_path):
    """A Chalice app with one route and nothing else packages and lints clean with the same
    merge template: scheduled, stream and authorizer functions are optional."""
    project = tmp_path / "minimal"
    (project / ".chalice").mkdir(parents=True)
    (project / "infra").mkdir()
    (project / "chalicelib" / "platform").mkdir(parents=True)
    for name in ("config.json", "policy-dev.json", "policy-prod.json"):
        shutil.copy(ROOT / ".chalice" / name, project / ".chalice" / name)
    for name in ("resources.yaml", "package.py", "slim_package.py", "iam.py"):
        shutil.copy(ROOT / "infra" / name, project / "infra" / name)
    shutil.copy(ROOT / "chalicelib" / "platform" / "config.py", project / "chalicelib" / "platform" / "config.py")  # package.py reads it
    (project / "requirements.txt").write_text("")
    (project / "app.py").write_text(textwrap.dedent(
        """
        from chalice import Chalice
        app = Chalice(app_name="fairslot")

        @app.route("/health")
        def health():
            return {"status": "ok"}
        """
    ))
    template = package(project, "prod")
    result = cfn_lint(template)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_slim_zip_holds_exactly_the_locked_runtime_versions(packaged, tmp_path):
    """Packaging installs the runtime lock (requirements.txt), and slimming drops only what the
    Lambda runtime provides."""
    sys.path.insert(0, str(ROOT / "infra"))
    from package import LAMBDA_MARKERS, locked_pins, packaged_versions
    from slim_package import _is_runtime_provided, slim

    for name in ("deployment.zip", "sam.yaml"):
        shutil.copy(packaged[1]["prod"].parent / name, tmp_path / name)
    slim(tmp_path)
    locked = locked_pins((ROOT / "requirements.txt").read_text(), LAMBDA_MARKERS)
    kept = {name: version for name, version in locked.items()
            if not _is_runtime_provided(f"{name.replace('-', '_')}-{version}.dist-info/")}
    assert {"pynamodb", "aws-lambda-powertools", "pyjwt", "cryptography"} <= set(kept)
    assert "botocore" in locked and "botocore" not in kept
    assert packaged_versions(tmp_path / "deployment.zip") == kept


def test_packaging_refuses_a_file_whose_hash_is_not_the_locked_one(tmp_path):
    """The hashes of requirements.txt are checked on what goes into deployment.zip."""
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=IGNORED)
    (project / "requirements.txt").write_text("six==1.17.0 --hash=sha256:" + "0" * 64 + "\n")
    result = _run([sys.executable, "infra/package.py", "--stage", "dev", str(project / "out")], cwd=project)
    assert result.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in result.stderr, result.stderr[-2000:]


def test_sam_translator_accepts_the_template(packaged):
    """What CloudFormation's SAM transform will do, offline (needs aws-sam-translator)."""
    pytest.importorskip("samtranslator")
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self):
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-3")
    for stage, path in packaged[1].items():
        template = load(path)
        for resource in template["Resources"].values():  # what `aws cloudformation package` does
            if resource["Type"] == "AWS::Serverless::Function":
                resource["Properties"]["CodeUri"] = "s3://fairslot-artifacts/deployment.zip"
        params = {"AWS::Region": "eu-west-3", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
        output = transform(template, params, NoManagedPolicies())
        assert "RestAPIapiStage" in output["Resources"], stage


def test_dashboard_body_is_valid_json(templates):
    import re

    body, variables = templates["prod"]["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    rendered = re.sub(r"\$\{[^}]+\}", "x", body)
    dashboard = json.loads(rendered)
    titles = {w["properties"].get("title") for w in dashboard["widgets"]}
    assert {"Alarms", "Fraud signals", "DynamoDB throttles and errors"} <= titles
    assert set(variables) == {"ApiName", "ApiStage"}


# --- least privilege per function, bounded stream retries, prod CORS (docs/deploy.md) ---------

FUNCTIONS = {"APIHandler", "PartnerKey", "StaffAgent", "StaffAdmin", "BookingsStream", "SendReminders",
             "PublishSignalMetrics", "RunDueDraws"}
WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def _grants(template):
    """{function: [statements]}: its role's inline policies plus any AWS::IAM::Policy on that role."""
    resources = template["Resources"]
    role_of = {name: r["Properties"]["Role"]["Fn::GetAtt"][0] for name, r in resources.items()
               if r["Type"] == "AWS::Serverless::Function"}
    grants = {}
    for name, role in role_of.items():
        statements = [st for p in resources[role]["Properties"].get("Policies", []) for st in p["PolicyDocument"]["Statement"]]
        for r in resources.values():
            if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]:
                statements += r["Properties"]["PolicyDocument"]["Statement"]
        grants[name] = statements
    return grants


def _actions(statements, prefix=""):
    return {a for st in statements for a in st["Action"] if a.startswith(prefix)}


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_has_its_own_role_and_policy(templates, stage):
    sys.path.insert(0, str(ROOT / "infra"))
    import iam

    resources = templates[stage]["Resources"]
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == FUNCTIONS
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(roles)
    for name, function in functions.items():
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert "ManagedPolicyArns" not in role and "Policies" not in function["Properties"], name
        assert [p["PolicyDocument"] for p in role["Policies"]] == [iam.policy_document(stage, name)], name
    for statements in _grants(templates[stage]).values():
        for st in statements:
            assert st["Effect"] == "Allow" and not any(a.endswith("*") for a in st["Action"])
            if st["Resource"] == "*":
                assert set(st["Action"]) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
            assert f"fairslot-{'prod' if stage == 'dev' else 'dev'}-" not in json.dumps(st)


@pytest.mark.parametrize("stage", STAGES)
def test_authorizers_cannot_write_and_read_only_what_they_check(templates, stage):
    grants = _grants(templates[stage])
    for name in ("StaffAgent", "StaffAdmin"):
        assert _actions(grants[name]) == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                          "xray:PutTraceSegments", "xray:PutTelemetryRecords"}, name
    (lookup,) = [st for st in grants["PartnerKey"] if _actions([st], "dynamodb:")]
    assert lookup["Action"] == ["dynamodb:GetItem"]
    assert json.dumps(lookup["Resource"]).count("table/") == 1 and f"table/fairslot-{stage}-catalog\"" in json.dumps(lookup["Resource"])
    assert lookup["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["partner-key#*"]}}
    assert not _actions(grants["PartnerKey"], "ssm:") and not _actions(grants["PartnerKey"], "apigateway:")
    writers = {name for name, statements in grants.items() if _actions(statements) & WRITES}
    assert writers == {"APIHandler", "RunDueDraws", "SendReminders"}
    (reminders,) = [st for st in grants["SendReminders"] if _actions([st]) & WRITES]
    assert reminders["Action"] == ["dynamodb:UpdateItem"] and json.dumps(reminders["Resource"]).endswith(f"table/fairslot-{stage}-bookings\"}}]")
    (signals,) = [st for st in grants["PublishSignalMetrics"] if _actions([st], "dynamodb:")]
    assert signals["Action"] == ["dynamodb:Query"]
    assert signals["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["signals#*"]


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_api_manages_api_keys_and_only_in_the_partners_plan(templates, stage):
    grants = _grants(templates[stage])
    assert {name for name, st in grants.items() if _actions(st, "apigateway:")} == {"APIHandler"}
    gateway = [st for st in grants["APIHandler"] if _actions([st], "apigateway:")]
    assert _actions(gateway) == {"apigateway:POST", "apigateway:DELETE"}
    resources = [r["Fn::Sub"] for st in gateway for r in st["Resource"]]
    plans = [r for r in resources if "/usageplans/" in r]
    assert plans and all("/usageplans/${PartnerUsagePlan}/keys" in r for r in plans)
    assert {r.rsplit("::", 1)[1] for r in resources if "/usageplans/" not in r} == {"/apikeys", "/apikeys/*"}
    policy = templates[stage]["Resources"]["ApiHandlerPartnerKeysPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": "ApiHandlerRole"}]


@pytest.mark.parametrize("stage", STAGES)
def test_email_is_sent_only_as_the_configured_sender(templates, stage):
    grants = _grants(templates[stage])
    # The stream (bookings), the draws (offers) and the API (acknowledgements, staff-run draws).
    assert {name for name, st in grants.items() if _actions(st, "ses:")} == {"BookingsStream", "RunDueDraws", "APIHandler"}
    for name in ("BookingsStream", "RunDueDraws", "APIHandler"):
        (ses,) = [st for st in grants[name] if _actions([st], "ses:")]
        assert ses["Action"] == ["ses:SendEmail"]
        text = json.dumps(ses["Resource"])
        assert "identity/*" not in text and "identity/${MailFrom}" in text and "identity/${MailFromDomain}" in text
    variables = templates[stage]["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["MAIL_FROM"] == {"Ref": "MailFrom"}
    assert _actions(grants["BookingsStream"], "dynamodb:") - {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"} == {
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}


@pytest.mark.parametrize("stage", STAGES)
def test_a_poison_stream_record_is_retried_a_bounded_number_of_times_then_queued(templates, stage):
    resources = templates[stage]["Resources"]
    (event,) = resources["BookingsStream"]["Properties"]["Events"].values()
    props = event["Properties"]
    assert props["MaximumRetryAttempts"] <= 10 and props["BisectBatchOnFunctionError"] is True
    assert 60 <= props["MaximumRecordAgeInSeconds"] <= 6 * 3600
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": ["NotificationFailuresQueue", "Arn"]}}}
    queue = resources["NotificationFailuresQueue"]
    assert queue["Type"] == "AWS::SQS::Queue" and queue["Properties"]["SqsManagedSseEnabled"] is True
    alarm = resources["NotificationFailuresAlarm"]["Properties"]
    assert alarm["Namespace"] == "AWS/SQS" and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["NotificationFailuresQueue", "QueueName"]}}]
    assert alarm["AlarmActions"] == [{"Ref": "OperationsTopic"}]
    sends = [st for st in _grants(templates[stage])["BookingsStream"] if _actions([st], "sqs:")]
    assert [(st["Action"], st["Resource"]) for st in sends] == [
        (["sqs:SendMessage"], [{"Fn::GetAtt": ["NotificationFailuresQueue", "Arn"]}])]


def test_a_prod_deploy_without_cors_origins_is_refused(templates):
    rule = templates["prod"]["Rules"]["ProdNeedsCorsOrigins"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CorsOrigins"}, ""]}]}
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert "CORS_ORIGINS" not in config["stages"]["prod"]["environment_variables"]  # no localhost in prod


def test_packaging_refuses_a_function_without_its_own_policy_or_a_wider_shared_policy(tmp_path):
    sys.path.insert(0, str(ROOT / "infra"))
    import package

    template = {"Resources": {
        "Stranger": {"Type": "AWS::Serverless::Function", "Properties": {"Role": {"Fn::GetAtt": ["StrangerRole", "Arn"]}}},
        "StrangerRole": {"Type": "AWS::IAM::Role", "Properties": {"Policies": []}},
    }}
    with pytest.raises(SystemExit, match="Stranger has no policy in infra/iam.py"):
        package.apply_least_privilege(template, "prod")
    (tmp_path / ".chalice").mkdir()
    wider = json.loads((ROOT / ".chalice" / "policy-prod.json").read_text())
    wider["Statement"].append({"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": "*"})
    (tmp_path / ".chalice" / "policy-prod.json").write_text(json.dumps(wider))
    with pytest.raises(SystemExit, match="may only hold the log statement"):
        package.apply_least_privilege(template, "prod", project=tmp_path)
