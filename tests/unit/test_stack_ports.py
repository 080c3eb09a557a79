"""`make run` (devlocal.stack) on a port already taken says which, and how to choose another, and exits non-zero."""
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_taken_port_is_named_and_the_stack_exits_non_zero():
    with socket.socket() as busy, socket.socket() as spare:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        spare.bind(("127.0.0.1", 0))
        taken, free = busy.getsockname()[1], spare.getsockname()[1]
        spare.close()
        run = subprocess.run([sys.executable, "-m", "devlocal.stack", "--api-port", str(taken), "--engine-port", str(free),
                              "--no-web", "--no-seed"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run
    assert f"port {taken} (API) is already taken" in run.stderr and "API_PORT" in run.stderr, run.stderr
    assert "READY" not in run.stdout
