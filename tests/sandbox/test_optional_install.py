"""The stand-ins are optional: the product's wheel leaves them (and cryptography) out, and the CLI
works without them, saying how to install them where a command needs them.

"Without them" is a real interpreter in which `revops_sandbox` cannot be imported
(`sys.modules["revops_sandbox"] = None` makes every `import revops_sandbox...` fail as if it were
not installed), running the real `revops` entry point.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WITHOUT_SANDBOX = (
    "import sys; sys.modules['revops_sandbox'] = None; "
    "sys.argv = ['revops', *sys.argv[1:]]; "
    "from revops_pipelines.cli import app; app()"
)


def revops_without_sandbox(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "REVOPS_STATE_DIR": str(tmp_path / "state"),
    }
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_SANDBOX, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_shim_really_hides_the_sandbox(tmp_path: Path) -> None:
    probe = "import sys; sys.modules['revops_sandbox'] = None; import revops_sandbox.stack"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr


def test_help_and_the_code_location_load_without_the_sandbox(tmp_path: Path) -> None:
    helped = revops_without_sandbox(tmp_path, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "sandbox" in helped.stdout and "demo" in helped.stdout
    assert revops_without_sandbox(tmp_path, "sandbox", "--help").returncode == 0
    definitions = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['revops_sandbox'] = None; import revops_pipelines.definitions",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert definitions.returncode == 0, definitions.stderr


@pytest.mark.parametrize("command", ["sandbox", "demo"])
def test_commands_needing_the_sandbox_say_how_to_install_it(tmp_path: Path, command: str) -> None:
    result = revops_without_sandbox(tmp_path, command)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert "pip install ./revops_sandbox" in result.stderr
    assert "make install" in result.stderr
    # It stops before starting anything: no Dagster home or store was prepared.
    assert not (tmp_path / "dagster_home").exists() and not (tmp_path / "state").exists()


def _build_wheel(tmp_path: Path) -> Path:
    """The main distribution's wheel, built from a copy of the checkout (so no build/ or egg-info
    lands in it) with uv's isolated, offline build (setuptools comes from uv's cache, which
    `make install` filled when it built the project)."""
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("revops_pipelines", "revops_sandbox"):  # the sandbox sits beside it
        shutil.copytree(ROOT / package, source / package, ignore=ignore)
    uv = Path(sys.executable).with_name("uv")
    out = tmp_path / "dist"
    built = subprocess.run(
        [str(uv), "build", "--wheel", "--offline", "--out-dir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = out.glob("revops_pipelines-*.whl")
    return wheel


def test_the_main_wheel_holds_no_sandbox_and_declares_no_cryptography(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
    assert any(n.startswith("revops_pipelines/") for n in names)
    assert [n for n in names if n.split("/")[0] == "revops_sandbox"] == []
    requires = metadata.get_all("Requires-Dist") or []
    runtime = [r for r in requires if "extra ==" not in r]
    assert runtime, requires
    assert [r for r in runtime if r.lower().startswith(("cryptography", "revops-sandbox"))] == []
    # The stand-ins stay reachable as the optional extra.
    assert any(r.startswith("revops-sandbox") and 'extra == "sandbox"' in r for r in requires)
