"""README.md cannot drift from the code: every Python block in it runs, as written.

Each ```python block is a complete program; it runs in a fresh interpreter in an empty folder
with the repository on PYTHONPATH (the TensorFlow backend), and must exit cleanly. The README
also stays short enough for a newcomer to read (under 250 lines).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```", README, flags=re.S | re.M)


def _block_id(block: str) -> str:
    modules = re.findall(r"^(?:from|import) (\w+)", block, flags=re.M)
    mine = [m for m in modules if (REPO / f"{m}.py").exists()]
    return mine[0] if mine else "block"


def test_readme_has_a_python_block_per_library_and_is_short():
    names = {_block_id(b) for b in BLOCKS}
    assert names >= {"bert4keras", "accum_optimizer", "vqvae", "bidir_seq2seq", "new_words",
                     "rope_curve"}
    assert len(README.splitlines()) < 250


@pytest.mark.parametrize("block", BLOCKS, ids=[_block_id(b) for b in BLOCKS])
def test_readme_python_block_runs(block, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), KERAS_BACKEND="tensorflow",
               TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
