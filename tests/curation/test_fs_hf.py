"""hf:// pools without the hub (no network here): the URL resolves to huggingface_hub's
HfFileSystem with the repository path intact, a hub that cannot be reached is one line naming the
URL, and a missing huggingface_hub is one line naming the package to install."""

import sys

import pytest

from curascale import io_remote
from curascale.errors import CurascaleError
from curation.fs import location
from curation.pool import Pool

URL = "hf://datasets/mlfoundations/datacomp_pools@main/small/shards"


def test_hf_urls_resolve_to_huggingface_hubs_filesystem():
    huggingface_hub = pytest.importorskip("huggingface_hub")
    fs, path = io_remote.filesystem(URL)
    assert isinstance(fs, huggingface_hub.HfFileSystem)
    assert path == "datasets/mlfoundations/datacomp_pools@main/small/shards"  # repo type, id, revision and folder as written
    assert location(URL + "/") == URL and location("pool", base="/data").as_posix() == "/data/pool"


def test_an_unreachable_hub_is_one_line(monkeypatch):
    """A hub that cannot be reached (its client's own error type) is one line naming the URL and
    the cause; the test does not touch the network (the listing raises as with no route)."""
    huggingface_hub = pytest.importorskip("huggingface_hub")

    class ConnectError(Exception):  # what huggingface_hub's HTTP client raises without a route
        pass

    def unreachable(self, path, **kwargs):
        raise ConnectError("[Errno -2] Name or service not known")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.HfFileSystem, "isdir", unreachable)
    with pytest.raises(CurascaleError) as caught:
        Pool.open("hf://datasets/org/no-such-pool")
    message = str(caught.value)
    assert message == "hf://datasets/org/no-such-pool: cannot list (ConnectError: [Errno -2] Name or service not known)"
    assert "no such pool directory" not in message  # it could not ask, so it does not know


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_an_offline_hub_says_it_is_offline_not_that_the_pool_is_missing(monkeypatch, value):
    """HF_HUB_OFFLINE makes HfFileSystem answer "no folder" for every path; the user is told why."""
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    with pytest.raises(CurascaleError, match=r"^hf://datasets/org/pool: cannot read \(HF_HUB_OFFLINE is set, so the Hugging Face Hub is not asked; unset it, or copy the pool to a local folder\)$"):
        Pool.open("hf://datasets/org/pool")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert io_remote.filesystem("hf://datasets/org/pool")[1] == "datasets/org/pool"


def test_without_huggingface_hub_the_error_names_the_package(monkeypatch):
    import importlib

    registry = importlib.import_module("fsspec.registry")._registry  # the module (fsspec.registry, the attribute, is a read-only view)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import huggingface_hub fails, as when it is not installed
    monkeypatch.delitem(registry, "hf", raising=False)  # a class fsspec already imported
    with pytest.raises(CurascaleError, match=r"^hf://datasets/org/pool: cannot open this filesystem \(hf:// needs the package huggingface_hub; pip install huggingface_hub\)$"):
        io_remote.filesystem("hf://datasets/org/pool")
