"""Builds the deployable artefacts of one stage: the one packaging command (docs/deploy.md).

    python infra/package.py --stage prod out/prod          # what `aws cloudformation package` takes
    python infra/package.py --stage prod --slim out/prod   # and slim deployment.zip (cold start)

Steps:
1. `chalice package --stage <stage> --merge-template infra/resources.yaml <outdir>`: Chalice's
   SAM template (functions, REST API, authorizers, schedules, stream handler) merged with the
   stack around it (tables, usage plan, WAF, alarms, ...).
2. Wires the stream handlers: Chalice needs a stream ARN when `app.py` is imported, but the
   bookings table and its stream are created by the same stack. `app.py` is given a placeholder
   (chalicelib.config.STREAM_ARN_PLACEHOLDERS) and every event source still naming it is pointed
   at `!GetAtt <table>.StreamArn` here, so the first deploy works. An explicit
   BOOKINGS_STREAM_ARN in the environment wins and is left alone.
3. Bounds the stream handlers' retries (STREAM_RETRY_BOUNDS) and sends what still fails to the
   notification failures queue (infra/resources.yaml), so one poison record cannot hold a
   shard for the stream's 24 h.
4. Least privilege per function: every function's role gets its own policy from infra/iam.py
   instead of the shared .chalice/policy-<stage>.json (which Chalice requires, and which may
   only hold the log statement).
5. With --slim, infra/slim_package.py on deployment.zip.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "infra"))

from chalicelib.config import STREAM_ARN_PLACEHOLDERS  # noqa: E402  (a constant, no AWS import)


def chalice_package(stage, outdir, project=ROOT):
    chalice = Path(sys.executable).with_name("chalice")
    subprocess.run([str(chalice), "package", "--stage", stage, "--merge-template", "infra/resources.yaml", str(outdir)],
                   cwd=str(project), check=True)


def _template_path(outdir):
    for name in ("sam.yaml", "sam.json"):
        if (Path(outdir) / name).exists():
            return Path(outdir) / name
    raise FileNotFoundError(f"no sam.yaml or sam.json in {outdir}")


def wire_streams(template):
    """Points every DynamoDB event source that names a placeholder at its table's stream.
    Returns the wired (function, event) pairs."""
    wired = []
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items():
            props = event.get("Properties", {})
            table = STREAM_ARN_PLACEHOLDERS.get(props.get("Stream")) if event.get("Type") == "DynamoDB" else None
            if table:
                if table not in template["Resources"]:
                    raise SystemExit(f"{name}.{event_name}: the stream's table {table} is not in the template")
                props["Stream"] = {"Fn::GetAtt": [table, "StreamArn"]}
                wired.append((name, event_name))
    return wired


# A record is retried this often and this long, a failing batch split to find it, then described
# in the failure queue (no booking content: shard and sequence numbers) and skipped.
STREAM_RETRY_BOUNDS = {
    "MaximumRetryAttempts": 10,
    "MaximumRecordAgeInSeconds": 3600,
    "BisectBatchOnFunctionError": True,
}


def bound_stream_retries(template):
    """Step 3. Returns the (function, event) pairs bounded."""
    import iam

    bounded = []
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items():
            if event.get("Type") not in ("DynamoDB", "Kinesis"):
                continue
            if iam.FAILURE_QUEUE not in template["Resources"]:
                raise SystemExit(f"{name}.{event_name}: no {iam.FAILURE_QUEUE} in the template (infra/resources.yaml)")
            event["Properties"].update(STREAM_RETRY_BOUNDS)
            event["Properties"]["DestinationConfig"] = {
                "OnFailure": {"Destination": {"Fn::GetAtt": [iam.FAILURE_QUEUE, "Arn"]}}}
            bounded.append((name, event_name))
    return bounded


def apply_least_privilege(template, stage, project=ROOT):
    """Step 4. Returns {function: role}."""
    import iam

    shared = json.loads((Path(project) / ".chalice" / f"policy-{stage}.json").read_text())
    if shared != {"Version": "2012-10-17", "Statement": [iam.logs_statement(stage)]}:
        raise SystemExit(f".chalice/policy-{stage}.json may only hold the log statement: "
                         "give a function its permissions in infra/iam.py")
    resources = template["Resources"]
    roles = {}
    for name, resource in list(resources.items()):
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        try:
            document = iam.policy_document(stage, name)
        except KeyError:
            raise SystemExit(f"function {name} has no policy in infra/iam.py: add what it needs there") from None
        role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        if sum(1 for r in resources.values() if r.get("Properties", {}).get("Role") == {"Fn::GetAtt": [role, "Arn"]}) != 1:
            raise SystemExit(f"role {role} is shared: each function needs its own")
        resources[role]["Properties"]["Policies"] = [{"PolicyName": f"fairslot-{stage}-{name}", "PolicyDocument": document}]
        roles[name] = role
    if "APIHandler" in roles and iam.USAGE_PLAN in resources:
        resources[iam.PARTNER_KEYS_POLICY] = iam.partner_keys_policy(roles["APIHandler"])
    return roles


def finish(outdir, stage="dev", project=ROOT):
    """Steps 2 to 4 on the template in outdir, rewritten in place (same format)."""
    import yaml

    path = _template_path(outdir)
    text = path.read_text()
    # Chalice writes intrinsic functions in their long form (Fn::GetAtt:), so plain YAML loads it.
    template = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    wired = wire_streams(template)
    bound_stream_retries(template)
    apply_least_privilege(template, stage, project)
    if path.suffix == ".json":
        path.write_text(json.dumps(template, indent=2))
    else:
        path.write_text(yaml.safe_dump(template, sort_keys=False, default_flow_style=False, width=1000))
    for function, event in wired:
        print(f"{path}: {function}.{event} reads !GetAtt {template['Resources'][function]['Properties']['Events'][event]['Properties']['Stream']['Fn::GetAtt'][0]}.StreamArn")
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    parser.add_argument("--stage", default="dev", choices=["dev", "prod"])
    parser.add_argument("--slim", action="store_true", help="also run infra/slim_package.py on deployment.zip")
    args = parser.parse_args()
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-3")
    chalice_package(args.stage, Path(args.outdir).resolve())
    finish(args.outdir, args.stage)
    if args.slim:
        from slim_package import slim

        slim(args.outdir)


if __name__ == "__main__":
    main()
