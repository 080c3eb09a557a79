"""The locks agree with their inputs: every pin of requirements.in / requirements-dev.in is in its
compiled, hashed lock at the same version, the dev lock repeats the runtime lock, and each lock is
closed over the dependencies of what it pins. Offline: reads the files and the venv's metadata."""
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PAIRS = [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")]


def lock_entries(text):
    """[(name, version, marker or None, [hashes])] of a compiled lock; one entry per pinned line."""
    entries = []
    for line in text.splitlines():
        pinned = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;([^\\]*))?", line)
        if pinned:
            marker = (pinned.group(3) or "").strip() or None
            entries.append((canonicalize_name(pinned.group(1)), pinned.group(2), marker, []))
        elif entries and line.strip().startswith("--hash="):
            entries[-1][3].append(line.strip().rstrip("\\").strip())
    return entries


def applicable_pins(text):
    """{name: version} of the lock's entries whose marker holds for this interpreter."""
    return {name: version for name, version, marker, _ in lock_entries(text)
            if marker is None or Marker(marker).evaluate()}


def input_requirements(text):
    """The requirements an .in file states itself (its -r/-c lines are checked separately)."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def disagreements(in_text, lock_text):
    """What in an input is not in its lock as stated: missing names, versions outside the pin,
    lines without a hash."""
    problems = []
    pins = applicable_pins(lock_text)
    for requirement in input_requirements(in_text):
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement} is not in the lock")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{requirement} but the lock has {name}=={pins[name]}")
    problems += [f"{name}=={version} has no hash" for name, version, _, hashes in lock_entries(lock_text)
                 if not hashes]
    return problems


def read(name):
    return (ROOT / name).read_text()


@pytest.mark.parametrize("source, lock", PAIRS)
def test_every_input_pin_is_in_its_lock_at_the_same_version_with_hashes(source, lock):
    assert lock_entries(read(lock)), f"{lock} pins nothing"
    assert disagreements(read(source), read(lock)) == [], f"{lock} is stale: run `make lock`"


def test_a_stale_or_incomplete_lock_is_reported():
    lock = "pynamodb==6.1.0 \\\n    --hash=sha256:aa\nsix==1.17.0\n"
    assert disagreements("pynamodb==6.2.0\nPyJWT[crypto]==2.15.1\nsix\n", lock) == [
        "pynamodb==6.2.0 but the lock has pynamodb==6.1.0",
        "PyJWT[crypto]==2.15.1 is not in the lock",
        "six==1.17.0 has no hash",
    ]
    assert disagreements("pynamodb==6.1.0\n", "pynamodb==6.1.0 \\\n    --hash=sha256:aa\n") == []


def test_the_dev_input_builds_on_the_runtime_input_and_lock():
    lines = {line.strip() for line in read("requirements-dev.in").splitlines()}
    assert {"-r requirements.in", "-c requirements.txt"} <= lines


def test_the_dev_lock_repeats_the_runtime_lock():
    runtime = {(name, version, marker) for name, version, marker, _ in lock_entries(read("requirements.txt"))}
    dev = {(name, version, marker) for name, version, marker, _ in lock_entries(read("requirements-dev.txt"))}
    assert runtime - dev == set()


def _installed_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def unlocked_dependencies(requirements, pins):
    """Walks the dependency graph from requirements (with their extras) through the installed
    metadata: what is needed but not locked at an accepted version, and what is installed at
    another version than the lock's (then the metadata read is not the locked one's)."""
    todo = [(canonicalize_name(r.name), frozenset(r.extras)) for r in requirements]
    seen, missing, stale = set(), [], []
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        if _installed_version(name) != pins.get(name):
            stale.append(f"{name}=={pins.get(name)} (installed: {_installed_version(name)})")
            continue
        for text in metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not any(
                    requirement.marker.evaluate({"extra": extra}) for extra in {"", *extras}):
                continue
            dependency = canonicalize_name(requirement.name)
            if dependency in pins and requirement.specifier.contains(pins[dependency], prereleases=True):
                todo.append((dependency, frozenset(requirement.extras)))
            else:
                missing.append(f"{name} needs {requirement}, the lock has {pins.get(dependency)}")
    return sorted(set(missing)), sorted(set(stale))


@pytest.mark.parametrize("source, lock", PAIRS)
def test_each_lock_holds_every_dependency_of_what_it_pins(source, lock):
    """Reads the venv that `make` installed from the dev lock, so that is checked first."""
    missing, stale = unlocked_dependencies(input_requirements(read(source)), applicable_pins(read(lock)))
    assert not stale, f"this venv is not the dev lock, run `make`: {stale}"
    assert not missing, f"{lock} is incomplete, run `make lock`: {missing}"


def test_a_dependency_missing_from_the_lock_is_reported():
    pins = applicable_pins(read("requirements.txt"))
    del pins["cryptography"]
    missing, stale = unlocked_dependencies([Requirement("PyJWT[crypto]")], pins)
    assert stale == []
    assert len(missing) == 1 and missing[0].startswith("pyjwt needs cryptography")
    pins["pyjwt"] = "0.0.1"
    assert unlocked_dependencies([Requirement("PyJWT")], pins)[1] == [
        f"pyjwt==0.0.1 (installed: {_installed_version('pyjwt')})"]
