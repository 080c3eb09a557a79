"""Slims a Chalice deployment.zip for a faster cold start; run between `chalice package` and
`aws cloudformation package` (docs/deploy.md).

Two changes, both measured by bench/coldstart.py:
- drops what the Lambda Python runtime already provides (boto3, botocore, s3transfer, jmespath,
  urllib3, dateutil, six): pynamodb pulls botocore into the zip, and importing 20 MB of botocore
  from source is most of the app's import time;
- adds .pyc files compiled by this interpreter with --invalidation-mode unchecked-hash, so the
  read-only /var/task does not recompile every module at each cold start. Only when this
  interpreter's version matches the function runtime (else the .pyc would be ignored anyway).

It also refuses a zip whose compiled packages (cryptography, cffi: RS256 staff sign-in) are not
Linux builds for the function's architecture and Python: packaged on another machine, they would
import on the laptop and fail on Lambda.

    python infra/slim_package.py out/prod      # rewrites out/prod/deployment.zip in place
"""
import argparse
import compileall
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py")


def _is_runtime_provided(name):
    top = name.split("/", 1)[0]
    if top in RUNTIME_PROVIDED:
        return True
    # their *.dist-info / *.data folders too
    base = re.split(r"-\d", top, maxsplit=1)[0].lower().replace("-", "_")
    return top.endswith((".dist-info", ".data")) and base in {
        "boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python_dateutil", "six"}


def _function_runtime(outdir):
    for name in ("sam.json", "sam.yaml"):
        path = outdir / name
        if path.exists():
            found = re.search(r"python(\d)\.(\d+)", path.read_text())
            if found:
                return int(found.group(1)), int(found.group(2))
    return None


def _function_architecture(outdir):
    for name in ("sam.json", "sam.yaml"):
        path = outdir / name
        if path.exists():
            return "aarch64" if "arm64" in path.read_text() else "x86_64"
    return "x86_64"


def native_mismatches(tree, runtime, architecture):
    """The compiled wheels in tree that the Lambda runtime (Linux, `architecture`, CPython
    `runtime`) cannot load: [(dist-info, tags)]."""
    wrong = []
    for wheel in sorted(tree.glob("*.dist-info/WHEEL")):
        text = wheel.read_text()
        if "Root-Is-Purelib: true" in text:
            continue
        tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]

        def fits(tag):
            python, abi, platform = (tag.split("-") + ["", "", ""])[:3]
            if not (platform.startswith(("manylinux", "linux")) and platform.endswith(architecture)):
                return False
            if runtime is None:
                return True
            major, minor = runtime
            if abi == "abi3":  # stable ABI: any CPython from the version it names
                return python.startswith(f"cp{major}") and int(python[3:] or 0) <= minor
            return python == f"cp{major}{minor}"

        if not any(fits(tag) for tag in tags):
            wrong.append((wheel.parent.name, tags))
    return wrong


def slim(outdir, strip=True, precompile=True):
    outdir = Path(outdir)
    archive = outdir / "deployment.zip"
    with tempfile.TemporaryDirectory(prefix="fairslot-slim-") as tmp:
        tree = Path(tmp) / "task"
        with zipfile.ZipFile(archive) as source:
            for info in source.infolist():
                if strip and _is_runtime_provided(info.filename):
                    continue
                source.extract(info, tree)
        runtime = _function_runtime(outdir)
        wrong = native_mismatches(tree, runtime, _function_architecture(outdir))
        if wrong:
            raise SystemExit(f"{archive}: compiled packages the Lambda runtime cannot load: {wrong}")
        if precompile:
            if runtime == sys.version_info[:2]:
                compileall.compile_dir(str(tree), quiet=1, workers=0,
                                       invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH)
            else:
                print(f"not precompiling: runtime {runtime} is not this interpreter {sys.version_info[:2]}",
                      file=sys.stderr)
        slimmed = Path(tmp) / "deployment.zip"
        with zipfile.ZipFile(slimmed, "w", compression=zipfile.ZIP_DEFLATED) as target:
            for path in sorted(tree.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo(str(path.relative_to(tree)), date_time=(2020, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16  # readable by the Lambda runtime user
                    info.compress_type = zipfile.ZIP_DEFLATED
                    target.writestr(info, path.read_bytes())
        before = archive.stat().st_size
        shutil.copyfile(slimmed, archive)
    print(f"{archive}: {before / 1e6:.1f} MB -> {archive.stat().st_size / 1e6:.1f} MB")
    return archive


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", help="the directory `chalice package` wrote (holds deployment.zip)")
    parser.add_argument("--keep-runtime-provided", action="store_true")
    parser.add_argument("--no-precompile", action="store_true")
    args = parser.parse_args()
    slim(args.outdir, strip=not args.keep_runtime_provided, precompile=not args.no_precompile)


if __name__ == "__main__":
    main()
