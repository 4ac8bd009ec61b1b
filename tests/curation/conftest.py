import pytest

from curation.demo import write_demo_pool


@pytest.fixture(scope="session")
def demo_pool(tmp_path_factory):
    """A 20,000-sample demo pool in 5 shards (session-wide; tests must not modify it)."""
    root = tmp_path_factory.mktemp("pool") / "demo"
    write_demo_pool(root, 20_000, shards=5, seed=7)
    return root
