import pytest

from paths import DATASETS


@pytest.fixture
def datasets():
    if not DATASETS.exists():
        pytest.fail(f"the shared datasets are missing: {DATASETS}")
    return DATASETS
