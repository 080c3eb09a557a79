"""The app packages for AWS: `infra/package.py` (`chalice package --merge-template
infra/resources.yaml`, then the stream wiring) gives a template that cfn-lint accepts, with every
table, protection and alarm issue 5 asks for, and partner throttling in API Gateway (issue 4).

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
    assert {i["IndexName"] for i in bookings["GlobalSecondaryIndexes"]} == {"day", "partner", "site"}
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
    assert variables["IDENTITY_HMAC_SECRET_PARAM"] == f"/fairslot/{stage}/identity-hmac-secret"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "fairslot"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "fairslot"
    assert "STAFF_JWKS_URL" in templates[stage]["Globals"]["Function"]["Environment"]["Variables"]
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    roles = [r for r in resources.values() if r["Type"] == "AWS::IAM::Role"]
    assert roles
    for role in roles:
        assert role["Properties"]["Policies"][0]["PolicyDocument"] == policy


@pytest.mark.parametrize("stage", STAGES)
def test_policy_is_least_privilege(stage):
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    text = json.dumps(policy)
    assert "dynamodb:*" not in text and "dynamodb:Scan" not in text
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        if statement["Resource"] == "*":
            assert set(statement["Action"]) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    tables = json.dumps(policy["Statement"][0]["Resource"])
    for suffix in TABLES.values():
        assert f"table/fairslot-{stage}-{suffix}\"" in tables
    assert f"table/fairslot-{stage}-slots/index/*" in tables
    assert f"table/fairslot-{stage}-bookings/index/*" in tables
    assert f"table/fairslot-{stage}-bookings/stream/*" in text
    assert f"parameter/fairslot/{stage}/identity-hmac-secret" in text
    assert f"parameter/fairslot/{stage}/partner-usage-plan-id" in text
    (gateway,) = [st for st in policy["Statement"] if any(a.startswith("apigateway:") for a in st["Action"])]
    assert set(gateway["Action"]) == {"apigateway:POST", "apigateway:DELETE"}
    assert "/apikeys" in json.dumps(gateway["Resource"]) and "/usageplans/*/keys" in json.dumps(gateway["Resource"])


def test_template_matches_the_pynamodb_models(templates):
    """Every model's table, keys, indexes and TTL attribute exist in the template as declared."""
    code = textwrap.dedent(
        """
        import json
        from pynamodb.models import Model
        from chalicelib import models
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
    (project / "chalicelib").mkdir()
    for name in ("config.json", "policy-dev.json", "policy-prod.json"):
        shutil.copy(ROOT / ".chalice" / name, project / ".chalice" / name)
    for name in ("resources.yaml", "package.py", "slim_package.py"):
        shutil.copy(ROOT / "infra" / name, project / "infra" / name)
    shutil.copy(ROOT / "chalicelib" / "config.py", project / "chalicelib" / "config.py")  # package.py reads it
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
