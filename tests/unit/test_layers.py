"""The layers hold by a test, not by goodwill (DEVELOPERS.md, "Layers"): read from the source
with ast, nothing imported or run.

- only chalicelib/storage/ talks to DynamoDB: no other module imports PynamoDB, the models or
  the package's core modules, or names DynamoDB to boto3;
- use cases write no key of storage's: no partition attribute, index partition or key prefix;
- the pure modules (domain.py, refusals.py, records.py) import no storage, boto3, botocore or Chalice.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "chalicelib" / "storage"
OUTSIDE = sorted([ROOT / "app.py", *(p for p in (ROOT / "chalicelib").glob("*.py"))])
# The pure modules, and the chalicelib modules each may import (None: any but storage).
PURE = {"domain.py": None, "refusals.py": ("chalicelib.domain", "chalicelib.errors"), "records.py": ()}

# Storage's names for keys and partitions: item attributes, index partitions, key prefixes.
KEY_ATTRIBUTES = {"pk", "sk", "search_pk", "pool_pk", "day_pk", "draw_pk"}
KEY_PREFIXES = ("booking#", "request#", "notify#", "record#", "figures#", "signals#", "partner-key#", "partner-holds#",
                "holds-ip#", "requests-ip#", "lookup-ip#", "lookup-identity#")


def _tree(path):
    return ast.parse(path.read_text(), filename=str(path))


def imported(tree):
    """Every module an import statement names (`from a import b` gives a and a.b)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def storage_leaks(tree):
    """Imports and strings by which a module would reach DynamoDB other than through the
    package's public names (`from chalicelib import storage`, storage.<function>)."""
    leaks = [name for name in imported(tree)
             if name.split(".")[0] == "pynamodb" or name.startswith("chalicelib.storage.") or name.startswith("boto3.dynamodb")]
    leaks += [f"{node.value!r}" for node in ast.walk(tree)
              if isinstance(node, ast.Constant) and node.value == "dynamodb"]
    return leaks


def key_formats(tree):
    """Key attributes read or written, and string pieces that spell a key prefix of storage's."""
    found = [f".{node.attr}" for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr in KEY_ATTRIBUTES]
    found += [f"{node.arg}=" for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg in KEY_ATTRIBUTES]
    found += [repr(node.value) for node in ast.walk(tree)
              if isinstance(node, ast.Constant) and isinstance(node.value, str) and any(p in node.value for p in KEY_PREFIXES)]
    return found


@pytest.mark.parametrize("path", OUTSIDE, ids=lambda p: p.name)
def test_only_the_storage_package_talks_to_dynamodb(path):
    assert storage_leaks(_tree(path)) == [], f"{path.name} reaches DynamoDB outside chalicelib/storage/"


@pytest.mark.parametrize("path", OUTSIDE, ids=lambda p: p.name)
def test_use_cases_write_no_key_of_storage_s(path):
    assert key_formats(_tree(path)) == [], f"{path.name} spells storage's keys: pass values, let storage build them"


@pytest.mark.parametrize("name", sorted(PURE))
def test_the_pure_modules_import_no_storage_aws_or_http(name):
    names = set(imported(_tree(ROOT / "chalicelib" / name)))
    assert not pure_breaches(names, PURE[name]), pure_breaches(names, PURE[name])


def pure_breaches(names, allowed_chalicelib):
    """Imports a pure module may not make: storage (or any chalicelib module not allowed, when a
    list is given: records.py takes the standard library only), boto3, botocore, Chalice, PynamoDB."""
    breaches = {n for n in names if n.split(".")[0] in {"boto3", "botocore", "chalice", "pynamodb"}}
    breaches |= {n for n in names if n == "chalicelib.storage" or n.startswith("chalicelib.storage.")}
    if allowed_chalicelib is not None:
        breaches |= {n for n in names if n.startswith("chalicelib.") and n.rsplit(".", 1)[0] not in allowed_chalicelib
                     and n not in allowed_chalicelib}
    return breaches


def test_the_checks_see_what_they_are_for():
    """Each check catches a line that breaks its rule (so a pass above means something)."""
    assert storage_leaks(ast.parse("from chalicelib.storage.models import Slot"))
    assert storage_leaks(ast.parse("from pynamodb.models import Model"))
    assert storage_leaks(ast.parse("import boto3\nboto3.client('dynamodb')"))
    assert not storage_leaks(ast.parse("from chalicelib import storage\nstorage.get_slot('x')"))
    assert key_formats(ast.parse("x = Request(pool_pk=f'{site}#{procedure}')"))
    assert key_formats(ast.parse("scope = f'booking#{procedure_id}'"))
    assert key_formats(ast.parse("site_id = site.sk"))
    assert not key_formats(ast.parse("site_id = site.site_id"))
    assert pure_breaches({"chalicelib", "chalicelib.storage"}, None)
    assert pure_breaches({"botocore.exceptions"}, None)
    assert pure_breaches({"chalicelib.clock", "chalicelib.clock.now"}, ())
    assert not pure_breaches({"chalicelib.errors", "chalicelib.errors.Conflict"}, ("chalicelib.errors",))


def test_storage_is_a_package_with_its_models_inside():
    assert (STORAGE / "__init__.py").exists() and (STORAGE / "models.py").exists()
    assert not (ROOT / "chalicelib" / "models.py").exists() and not (ROOT / "chalicelib" / "storage.py").exists()
