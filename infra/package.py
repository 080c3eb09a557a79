"""Builds the deployable artefacts of one stage: the one packaging command (docs/deploy.md).

    python infra/package.py --stage prod out/prod          # what `aws cloudformation package` takes
    python infra/package.py --stage prod --slim out/prod   # and slim deployment.zip (cold start)

Steps:
0. The runtime lock, requirements.txt (compiled from requirements.in by `make lock`, every file
   hashed), is downloaded hash-checked into a wheelhouse: the wheels for this machine (what
   Chalice's first `pip download` picks) and the manylinux wheels of the Lambda runtime (what
   Chalice fetches by name afterwards, which pip would not hash-check). Chalice then installs
   from that wheelhouse only, so every file in deployment.zip is one the lock names.
1. `chalice package --stage <stage> --merge-template infra/resources.yaml <outdir>`: Chalice's
   SAM template (functions, REST API, authorizers, schedules, stream handler) merged with the
   stack around it (tables, usage plan, WAF, alarms, ...).
2. Wires the stream handlers: Chalice needs a stream ARN when `app.py` is imported, but the
   bookings table and its stream are created by the same stack. `app.py` is given a placeholder
   (chalicelib.platform.config.STREAM_ARN_PLACEHOLDERS) and every event source still naming it is pointed
   at `!GetAtt <table>.StreamArn` here, so the first deploy works. An explicit
   BOOKINGS_STREAM_ARN in the environment wins and is left alone.
3. Bounds the stream handlers' retries (STREAM_RETRY_BOUNDS) and sends what still fails to the
   notification failures queue (infra/resources.yaml), so one poison record cannot hold a
   shard for the stream's 24 h.
4. Least privilege per function: every function's role gets its own policy from infra/iam.py
   instead of the shared .chalice/policy-<stage>.json (which Chalice requires, and which may
   only hold the log statement).
5. Checks that deployment.zip holds exactly the locked runtime versions.
6. With --slim, infra/slim_package.py on deployment.zip.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "infra"))

from chalicelib.platform.config import STREAM_ARN_PLACEHOLDERS  # noqa: E402  (a constant, no AWS import)

# The Lambda runtime Chalice targets is this interpreter's version; its glibc is 2.26 (Amazon
# Linux 2), so manylinux wheels up to 2_26 run there (the tags Chalice itself asks pip for).
LAMBDA_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
LAMBDA_ABI = f"cp{sys.version_info[0]}{sys.version_info[1]}"
LAMBDA_PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(17, 27)] + ["manylinux2014_x86_64"]
# The lock is universal (markers for other platforms); these are what holds on the Lambda.
LAMBDA_MARKERS = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                  "platform_machine": "x86_64", "implementation_name": "cpython",
                  "platform_python_implementation": "CPython", "python_version": LAMBDA_PYTHON}


def _normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_pins(lock_text, environment=None):
    """{normalized name: version} of the `name==version` lines of a compiled lock whose marker
    holds in environment (marker variables over this interpreter's; by default this interpreter)."""
    from packaging.markers import Marker

    pins = {}
    for line in lock_text.splitlines():
        found = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;([^\\]*))?", line)
        if found and (not found.group(3) or Marker(found.group(3)).evaluate(environment)):
            pins[_normalize(found.group(1))] = found.group(2)
    return pins


def packaged_versions(archive):
    """{normalized name: version} of the *.dist-info folders at the top of a deployment zip."""
    versions = {}
    with zipfile.ZipFile(archive) as source:
        for name in source.namelist():
            top = name.split("/", 1)[0]
            if top.endswith(".dist-info"):
                dist, version = top[: -len(".dist-info")].rsplit("-", 1)
                versions[_normalize(dist)] = version
    return versions


def locked_wheelhouse(project, wheelhouse):
    """Downloads the runtime lock, every file checked against its hash, into wheelhouse."""
    lock = Path(project) / "requirements.txt"
    if not locked_pins(lock.read_text(), LAMBDA_MARKERS):
        return False
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                "--require-hashes", "-r", str(lock), "--dest", str(wheelhouse)]
    subprocess.run(download, check=True)
    platforms = [arg for tag in LAMBDA_PLATFORMS for arg in ("--platform", tag)]
    subprocess.run(download + ["--no-deps", "--only-binary=:all:", "--implementation", "cp", "--abi", LAMBDA_ABI,
                               "--python-version", LAMBDA_PYTHON, *platforms], check=True)
    return True


def chalice_package(stage, outdir, project=ROOT):
    chalice = Path(sys.executable).with_name("chalice")
    with tempfile.TemporaryDirectory(prefix="fairslot-wheels-") as wheelhouse:
        env = dict(os.environ)
        if locked_wheelhouse(project, wheelhouse):
            # Chalice runs pip in a subprocess that inherits these: nothing from an index.
            env.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": wheelhouse})
        subprocess.run([str(chalice), "package", "--stage", stage, "--merge-template", "infra/resources.yaml",
                        str(outdir)], cwd=str(project), check=True, env=env)


def check_locked(outdir, project=ROOT):
    """Fails unless deployment.zip holds exactly the runtime lock's packages at their versions."""
    locked = locked_pins((Path(project) / "requirements.txt").read_text(), LAMBDA_MARKERS)
    packaged = packaged_versions(Path(outdir) / "deployment.zip")
    if packaged != locked:
        wrong = sorted(set(locked.items()) ^ set(packaged.items()))
        raise SystemExit(f"deployment.zip differs from requirements.txt (locked vs packaged): {wrong}")


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
    _draw_seed_key_policy(resources, roles)
    _without_a_draw_function(resources)
    return roles


def _without_a_draw_function(resources):
    """An app without the draw function (a minimal one) runs no staff draw there: the API
    function neither names nor may invoke it."""
    import iam

    api = resources.get("APIHandler")
    if iam.DRAW_FUNCTION in resources or api is None:
        return
    api["Properties"].get("Environment", {}).get("Variables", {}).pop("DRAW_FUNCTION_NAME", None)
    for policy in resources[api["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"].get("Policies", []):
        statements = policy["PolicyDocument"]["Statement"]
        statements[:] = [st for st in statements if st.get("Sid") != "RunStaffDrawsInTheDrawFunction"]


def _draw_seed_key_policy(resources, roles):
    """The draw-seed key's policy names the roles it lets seal and open a seed (iam.py)."""
    import iam

    if iam.DRAW_SEED_KEY in resources:
        resources[iam.DRAW_SEED_KEY]["Properties"]["KeyPolicy"] = iam.draw_seed_key_policy(roles)


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
        stream = template["Resources"][function]["Properties"]["Events"][event]["Properties"]["Stream"]
        print(f"{path}: {function}.{event} reads !GetAtt {stream['Fn::GetAtt'][0]}.StreamArn")
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
    check_locked(args.outdir)
    if args.slim:
        from slim_package import slim

        slim(args.outdir)


if __name__ == "__main__":
    main()
