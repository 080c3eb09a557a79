"""Cold start of the packaged application: `import app` versus a plain `import boto3`.

Packages the project with `chalice package --stage prod`, unzips deployment.zip, and in fresh
interpreters measures the wall time of `import app` from that tree the way Lambda sees it
(/var/task first on sys.path, no .pyc files: a Lambda zip built by Chalice carries none and
/var/task is read-only, so every cold start compiles every module it imports), against
`import boto3` from this virtualenv's site-packages (with its .pyc). Runs alternate; medians.
Then one `-X importtime` run of `import app` prints the 10 costliest modules (cumulative).

    python bench/coldstart.py [--runs 7] [--stage prod] [--slim]

--slim measures the zip after infra/slim_package.py, which docs/deploy.md runs before upload: it
drops what the Lambda Python runtime already provides (boto3, botocore, ...: imported from this
venv's site-packages with .pyc instead, standing in for the runtime's copy) and adds .pyc files.
Target (SPEC §6): ratio at most 2x.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
IGNORED = shutil.ignore_patterns(
    ".venv", "node_modules", "web", ".git", "out", "var", "test-artifacts", "__pycache__",
    ".pytest_cache", ".hypothesis", "deployments", "deployed", "tests", "bench", "docs",
)

TIMED = """
import sys, time, resource
sys.path[:0] = {paths!r}
t0 = time.perf_counter()
import {module}
t1 = time.perf_counter()
# This process's own peak (VmHWM, kB): on Linux ru_maxrss also keeps the peak of the forked
# parent before exec, which grows with the size of the zip the bench has just built.
try:
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(repr((t1 - t0, peak)))
"""


# What the stack adds through its Globals (infra/resources.yaml); a deployed function refuses to
# start without them (chalicelib/platform/config.py, check_deployed).
STACK_GLOBALS = {
    "STAFF_JWT_ISSUER": "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_bench",
    "STAFF_JWKS_URL": "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_bench/.well-known/jwks.json",
    "STAFF_JWT_AUDIENCE": "benchclientid",
    "CORS_ORIGINS": "https://rdv.example.org",
}


def stage_environment(stage):
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return {**STACK_GLOBALS, **env}


def clean_env(extra):
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update({
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_REGION": "eu-west-3",
        "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKEFAKE",
        "AWS_SECRET_ACCESS_KEY": "fake-secret-for-cold-start-bench",
        "AWS_LAMBDA_FUNCTION_NAME": "fairslot-bench-api",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.update(extra)
    return env


def package(stage, workdir, slimmed):
    project = workdir / "project"
    shutil.copytree(ROOT, project, ignore=IGNORED)
    shutil.rmtree(project / ".chalice" / "deployments", ignore_errors=True)
    out = workdir / "out"
    result = subprocess.run(
        [str(BIN / "chalice"), "package", "--stage", stage, str(out)],
        # Packaging is not a Lambda: without AWS_LAMBDA_FUNCTION_NAME, app.py imports as on a laptop.
        cwd=project, env={k: v for k, v in clean_env({"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}).items()
                          if k != "AWS_LAMBDA_FUNCTION_NAME"},
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        sys.exit(f"chalice package failed:\n{result.stdout}\n{result.stderr}")
    zip_size = (out / "deployment.zip").stat().st_size
    if slimmed:
        sys.path.insert(0, str(ROOT / "infra"))
        from slim_package import slim

        slim(out)
    task = workdir / "task"
    with zipfile.ZipFile(out / "deployment.zip") as archive:
        archive.extractall(task)
    return task, zip_size, (out / "deployment.zip").stat().st_size


def prepare_tree(task, slimmed):
    if not slimmed:  # exactly what Chalice ships: no .pyc
        for pyc in list(task.rglob("*.pyc")) + list(task.rglob("__pycache__")):
            if pyc.is_dir():
                shutil.rmtree(pyc, ignore_errors=True)
            elif pyc.exists():
                pyc.unlink()
    # Read-only like /var/task (root ignores this; PYTHONDONTWRITEBYTECODE and -B are what
    # keep the tree free of .pyc, and it is checked after the runs).
    for path in sorted(task.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    task.chmod(0o555)


def tree_size(task):
    return sum(p.stat().st_size for p in task.rglob("*") if p.is_file())


def timed_import(module, paths, env):
    code = TIMED.format(paths=paths, module=module)
    result = subprocess.run([sys.executable, "-B", "-c", code], cwd=tempfile.gettempdir(),
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"import {module} failed:\n{result.stderr}")
    seconds, maxrss_kb = eval(result.stdout.strip().splitlines()[-1])  # our own repr() above
    return seconds, maxrss_kb


def importtime_top(paths, env, n=10):
    code = f"import sys; sys.path[:0] = {paths!r}; import app"
    result = subprocess.run([sys.executable, "-B", "-X", "importtime", "-c", code],
                            cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True)
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        rows.append((int(cumulative_us), int(self_us), name))
    rows.sort(reverse=True)
    return rows[:n]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--slim", action="store_true", help="measure the zip after infra/slim_package.py")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fairslot-coldstart-") as tmp:
        workdir = Path(tmp)
        task, zip_size, final_size = package(args.stage, workdir, args.slim)
        prepare_tree(task, args.slim)
        app_env = clean_env(stage_environment(args.stage))
        base_env = clean_env({})

        app_times, boto_times, rss = [], [], []
        for _ in range(args.runs):
            seconds, maxrss = timed_import("app", [str(task)], app_env)
            app_times.append(seconds)
            rss.append(maxrss)
            boto_times.append(timed_import("boto3", [], base_env)[0])
        leftovers = list(task.rglob("*.pyc")) if not args.slim else []
        top = importtime_top([str(task)], app_env)
        unpacked = tree_size(task)
        for path in task.rglob("*"):  # let TemporaryDirectory clean up
            path.chmod(0o755 if path.is_dir() else 0o644)
        task.chmod(0o755)

    app_median = statistics.median(app_times)
    boto_median = statistics.median(boto_times)
    variant = "slimmed by infra/slim_package.py" if args.slim else "as chalice packages it"
    tree = "slim tree, with .pyc" if args.slim else "zip tree, no .pyc"
    print(f"fairslot cold start, stage {args.stage}, {args.runs} alternating runs each ({variant})")
    print(f"python {sys.version.split()[0]}; deployment.zip {zip_size / 1e6:.1f} MB as packaged"
          f"{f', {final_size / 1e6:.1f} MB slimmed' if args.slim else ''}; unzipped {unpacked / 1e6:.1f} MB")
    print(f"  import app    {'(' + tree + ')':28s}  median {app_median * 1000:7.1f} ms   "
          f"runs: {', '.join(f'{t * 1000:.0f}' for t in app_times)}")
    print(f"  import boto3  {'(venv site-packages, .pyc)':28s}  median {boto_median * 1000:7.1f} ms   "
          f"runs: {', '.join(f'{t * 1000:.0f}' for t in boto_times)}")
    ratio = app_median / boto_median
    print(f"  ratio app/boto3: {ratio:.2f}x (target <= 2x: {'met' if ratio <= 2 else 'NOT met'})")
    print(f"  peak RSS after import app: {statistics.median(rss) / 1024:.1f} MB (median)")
    if leftovers:
        print(f"  WARNING: {len(leftovers)} .pyc files were written into the tree")
    print("  top 10 modules by cumulative import time (-X importtime, one run of import app):")
    for cumulative, self_us, name in top:
        print(f"    {cumulative / 1000:8.1f} ms cumulative  {self_us / 1000:7.1f} ms self  {name}")


if __name__ == "__main__":
    main()
