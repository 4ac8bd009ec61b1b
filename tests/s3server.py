"""An S3-compatible server on the loopback (moto's server mode) for the tests that read pools
from and write outputs to s3:// URLs: the AWS variables point every client at it."""

import contextlib
import socket
import urllib.request

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@contextlib.contextmanager
def moto_s3(patch):
    """Start moto's server on a free loopback port, point the AWS environment at it through
    `patch` (a pytest MonkeyPatch, undone by the caller) and yield the endpoint URL."""
    import s3fs
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST")).close()  # moto's state is per process: start empty
    for name, value in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", **CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        patch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def remote_keys(fs, prefix):
    """The keys under `prefix` of an fsspec filesystem, relative to it, sorted (no cached listing)."""
    fs.invalidate_cache()
    return sorted(key[len(prefix) + 1:] for key in fs.find(prefix))


def folder_for_test(request, bucket):
    """A folder of `bucket` named after the running test: (URL, s3fs filesystem, key prefix)."""
    import s3fs

    name = request.node.name.replace("[", "-").replace("]", "")
    return f"s3://{bucket}/{name}", s3fs.S3FileSystem(), f"{bucket}/{name}"


def fail_after(monkeypatch, store, method: str, calls: int, message: str):
    """Make `store.method` (an fsspec filesystem's copy, put_file, ...) work `calls` times, then
    raise ConnectionError(message): the network going away part-way."""
    real, done = getattr(store, method), []

    def cut(*args, **kwargs):
        if len(done) >= calls:
            raise ConnectionError(message)
        done.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(store, method, cut)
