"""End-to-end: the local stack (devlocal.stack: serialized engine + `chalice local`) on free
ports, started once per session, driven over real HTTP."""
import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from bench.storm import drain
from tests import support
from tests.support import Api

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAFF_SECRET = "e2e-staff-secret-at-least-32-bytes-long"
OUTBOX = tempfile.mkdtemp(prefix="fairslot-e2e-outbox-")  # notification e-mails of the stack
support.HTTP_OUTBOX = OUTBOX  # the test client reads one-time codes there
STARTUP_LINES = []  # what the stack printed up to READY, as `make run` shows it


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def stack():
    api_port, engine_port = free_port(), free_port()
    env = {**os.environ, "STAFF_JWT_SECRET": STAFF_SECRET, "TABLE_PREFIX": "fairslot-e2e", "POWERTOOLS_LOG_LEVEL": "WARNING",
           "OUTBOX_DIR": OUTBOX}
    log = open(os.path.join(ROOT, ".e2e-stack.log"), "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "devlocal.stack", "--api-port", str(api_port), "--engine-port", str(engine_port),
         "--no-seed", "--no-web"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
    )
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        STARTUP_LINES.append(line.rstrip("\n"))
        if line.strip() == "READY":
            break
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("the local stack did not start; see .e2e-stack.log")
    drain(proc.stdout, os.path.join(ROOT, ".e2e-stack.out"))
    yield f"http://127.0.0.1:{api_port}"
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


_sites = iter(range(1, 10_000))


@pytest.fixture
def http(stack):
    """An API client over HTTP, and a fresh site id for this test."""
    client = Api(stack, staff_secret=STAFF_SECRET)
    client.site = f"e2e-{os.getpid()}-{next(_sites)}"
    return client


@pytest.fixture
def outbox(stack):
    """The directory where the stack writes notification e-mails (.eml)."""
    return OUTBOX
