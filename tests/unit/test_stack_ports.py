"""`make run` (devlocal.stack) on a port already taken says which, and how to choose another, and exits non-zero;
a port only left in TIME-WAIT by a stack just stopped is not taken."""
import socket
import subprocess
import sys
from pathlib import Path

from devlocal import stack

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


def _time_wait_port():
    """A port with nothing listening but a connection in TIME-WAIT on it, as a stopped `make run`
    leaves: the server side closes first (as chalice local does after a response), then the client."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as socketserver's servers do
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()
        client.recv(1)  # the server's FIN has arrived: closing now leaves the served side in TIME-WAIT
        client.close()
    return port


def test_a_port_left_in_time_wait_by_a_stopped_stack_is_free_and_a_listening_one_is_taken():
    port = _time_wait_port()
    assert stack.taken_ports([("API", port)]) == []
    with socket.socket() as listening:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(("127.0.0.1", port))
        listening.listen()
        assert stack.taken_ports([("API", port)]) == [("API", port)]
    with socket.socket() as foreign:  # a listener that does not ask for address reuse is taken too
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        assert stack.taken_ports([("web", foreign.getsockname()[1])]) == [("web", foreign.getsockname()[1])]
