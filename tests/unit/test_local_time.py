"""No product code takes the process's time zone: days and instants are UTC (chalicelib/platform/clock.py)
or a site's named zone, whatever TZ says on the machine that runs them."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Calls that read the process's local zone, or build a naive datetime that later code takes as local.
LOCAL = {("date", "fromtimestamp"), ("date", "today"), ("datetime", "today"), ("datetime", "utcnow"),
         ("datetime", "utcfromtimestamp"), ("time", "localtime"), ("time", "mktime"), ("time", "ctime")}


def _local_time_calls(source):
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        owner = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else None
        call = (owner, node.func.attr)
        zoned = len(node.args) + len(node.keywords) >= (2 if call == ("datetime", "fromtimestamp") else 1)
        if call in LOCAL or call in (("datetime", "now"), ("datetime", "fromtimestamp")) and not zoned:
            found.append(f"{owner}.{node.func.attr} line {node.lineno}")
    return found


def test_product_code_never_reads_the_local_time_zone():
    paths = [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")]
    found = {p.relative_to(ROOT).as_posix(): calls for p in paths if p.name != "clock.py"
             for calls in [_local_time_calls(p.read_text())] if calls}
    assert found == {}


@pytest.mark.parametrize("source, ok", [
    ("date.fromtimestamp(now)", False),
    ("datetime.fromtimestamp(now)", False),
    ("datetime.datetime.now()", False),
    ("date.today()", False),
    ("time.localtime(now)", False),
    ("datetime.fromtimestamp(now, timezone.utc)", True),
    ("datetime.now(timezone.utc)", True),
    ("clock.utc_date(now)", True),
])
def test_the_check_tells_local_from_zoned_calls(source, ok):
    assert (_local_time_calls(source) == []) is ok
