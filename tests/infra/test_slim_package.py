"""infra/slim_package.py drops what the Lambda runtime provides and adds .pyc, nothing else."""
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))

from slim_package import slim  # noqa: E402


def test_slim_drops_runtime_provided_packages_and_precompiles(tmp_path):
    runtime = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    (tmp_path / "sam.json").write_text(f'{{"Runtime": "{runtime}"}}')
    with zipfile.ZipFile(tmp_path / "deployment.zip", "w") as archive:
        archive.writestr("app.py", "import chalicelib.thing\n")
        archive.writestr("chalicelib/thing.py", "VALUE = 1\n")
        archive.writestr("pynamodb/__init__.py", "")
        archive.writestr("botocore/__init__.py", "")
        archive.writestr("botocore-1.44.8.dist-info/METADATA", "")
        archive.writestr("python_dateutil-2.9.0.post0.dist-info/METADATA", "")
        archive.writestr("six.py", "")
        archive.writestr("urllib3/__init__.py", "")
    slim(tmp_path)
    names = set(zipfile.ZipFile(tmp_path / "deployment.zip").namelist())
    assert not [n for n in names if n.startswith(("botocore", "urllib3", "six.py", "python_dateutil"))]
    assert {"app.py", "chalicelib/thing.py", "pynamodb/__init__.py"} <= names
    assert any(n.startswith("chalicelib/__pycache__/thing.") and n.endswith(".pyc") for n in names)


def _zip_with_wheel(tmp_path, tags, runtime="python3.11"):
    (tmp_path / "sam.json").write_text(f'{{"Runtime": "{runtime}", "Architectures": ["x86_64"]}}')
    with zipfile.ZipFile(tmp_path / "deployment.zip", "w") as archive:
        archive.writestr("app.py", "")
        archive.writestr("cryptography/__init__.py", "")
        archive.writestr("cryptography-50.0.2.dist-info/WHEEL",
                         "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n" + "".join(f"Tag: {t}\n" for t in tags))


def test_slim_accepts_linux_x86_64_builds_for_the_runtime(tmp_path):
    _zip_with_wheel(tmp_path, ["cp311-abi3-manylinux2014_x86_64", "cp311-abi3-manylinux_2_17_x86_64"])
    slim(tmp_path, precompile=False)
    _zip_with_wheel(tmp_path, ["cp311-cp311-manylinux_2_17_x86_64"])
    slim(tmp_path, precompile=False)


@pytest.mark.parametrize("tags", [
    ["cp311-abi3-macosx_10_9_universal2"],          # packaged on a Mac without chalice's download
    ["cp311-abi3-manylinux_2_17_aarch64"],          # the wrong architecture
    ["cp312-cp312-manylinux_2_17_x86_64"],          # another Python than the runtime's
    ["cp312-abi3-manylinux_2_17_x86_64"],           # a stable ABI newer than the runtime
])
def test_slim_refuses_compiled_packages_the_lambda_runtime_cannot_load(tmp_path, tags):
    _zip_with_wheel(tmp_path, tags)
    with pytest.raises(SystemExit, match="cannot load"):
        slim(tmp_path, precompile=False)
