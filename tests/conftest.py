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
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

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
