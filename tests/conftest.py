from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATASETS = SHARED / "datasets"


@pytest.fixture
def datasets() -> Path:
    if not DATASETS.exists():
        pytest.fail(f"the shared datasets are missing: {DATASETS}")
    return DATASETS
