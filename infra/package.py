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
3. With --slim, infra/slim_package.py on deployment.zip.
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


def finish(outdir):
    """Step 2 on the template in outdir, rewritten in place (same format)."""
    import yaml

    path = _template_path(outdir)
    text = path.read_text()
    # Chalice writes intrinsic functions in their long form (Fn::GetAtt:), so plain YAML loads it.
    template = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    wired = wire_streams(template)
    if wired:
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
    finish(args.outdir)
    if args.slim:
        from slim_package import slim

        slim(args.outdir)


if __name__ == "__main__":
    main()
