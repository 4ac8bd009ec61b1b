"""Test helper: write tar shards by hand (corrupt or odd ones the demo writer does not make)."""


def write_tar(path, members):
    """A tar of (name, bytes) members, as WebDataset writers lay them out."""
    import io
    import tarfile

    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
