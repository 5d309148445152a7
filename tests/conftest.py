"""Shared test set-up: the TensorFlow backend by default, quiet logs, deterministic seeds."""

import os
import random
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# The library files come first; bench/ (for `_data`) goes last, because its scripts carry the
# library files' names (bench/vqvae.py) and must never shadow them.
for _path in (REPO / "tests", REPO):
    if str(_path) in sys.path:
        sys.path.remove(str(_path))
    sys.path.insert(0, str(_path))
if str(REPO / "bench") not in sys.path:
    sys.path.append(str(REPO / "bench"))

SEED = 1234


@pytest.fixture(autouse=True)
def _deterministic_seeds():
    """Every test starts from the same Python, numpy and Keras random state."""
    random.seed(SEED)
    np.random.seed(SEED)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(SEED)
    yield


@pytest.fixture
def repo_root() -> Path:
    return REPO


def run_copied(module: str, script: str, backend: str, tmp_path: Path, timeout: int = 300) -> str:
    """Run `script` next to a lone copy of `module`.py on a Keras backend, as a copier would.

    The library file is copied into an empty folder and the script runs there in a fresh
    interpreter with KERAS_BACKEND set and no path to this repository, so a hidden import of a
    sibling file or a TensorFlow-only call shows up. Returns the script's standard output;
    a failure shows its standard error.
    """
    import shutil
    import subprocess

    work = tmp_path / f"copier_{module}_{backend}"
    work.mkdir()
    shutil.copy(REPO / f"{module}.py", work / f"{module}.py")
    (work / "smoke.py").write_text(script, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_HOME")}
    env.update(KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", KERAS_HOME=str(work / ".keras"),
               PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "smoke.py"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{module} on {backend} failed:\n{proc.stderr[-4000:]}"
    return proc.stdout


BACKENDS = ["tensorflow", "jax", "torch"]
