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
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CurascaleError) as caught:
        Pool.open("hf://datasets/org/no-such-pool")
    assert str(caught.value).startswith("hf://datasets/org/no-such-pool: ") and "\n" not in str(caught.value)


def test_without_huggingface_hub_the_error_names_the_package(monkeypatch):
    import importlib

    registry = importlib.import_module("fsspec.registry")._registry  # the module (fsspec.registry, the attribute, is a read-only view)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import huggingface_hub fails, as when it is not installed
    monkeypatch.delitem(registry, "hf", raising=False)  # a class fsspec already imported
    with pytest.raises(CurascaleError, match=r"^hf://datasets/org/pool: cannot open this filesystem \(hf:// needs the package huggingface_hub; pip install huggingface_hub\)$"):
        io_remote.filesystem("hf://datasets/org/pool")
