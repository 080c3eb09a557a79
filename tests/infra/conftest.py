"""Shared helpers for the infrastructure tests (packaging, cfn-lint, observability)."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `from chalicelib import ...` whatever pytest's rootdir/import mode
    sys.path.insert(0, str(ROOT))


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "infra: packages the app with `chalice package` and lints the CloudFormation (slow, offline)",
    )


def run_python(code, env=None, cwd=None, timeout=120):
    """Run `code` in a fresh interpreter with the repo on sys.path; return CompletedProcess.

    It runs outside the repo by default: chalice.test.Client would otherwise load the real
    .chalice/config.json and export its stage's environment variables."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POWERTOOLS_", "FAIRSLOT_", "AWS_LAMBDA_"))
    }
    full_env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_DEFAULT_REGION": "eu-west-3",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=str(cwd or tempfile.gettempdir()),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def py():
    return run_python
