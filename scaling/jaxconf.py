"""Float64 for fitting without global state, and the opt-in cache of compiled fits.

curascale fits in float64 (LAWS.md §7) but never flips JAX's process-wide x64 switch: the
entry points that compute with JAX run under `float64`, which turns on JAX's x64 mode
(`jax.enable_x64`) for the call and restores the caller's mode after, so a user's float32 program
in the same process keeps its dtypes. Arrays made inside stay inside: results leave as numpy
float64 or Python floats.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def float64(function: F) -> F:
    """`function`, run with JAX's x64 mode on and the caller's mode restored after."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        import jax  # here, so that importing a module with decorated functions does not load JAX (the registry's rules do not need it)

        with jax.enable_x64(True):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def cache_directory() -> Path:
    """Where compiled fits are kept: $XDG_CACHE_HOME/curascale/jax (default ~/.cache/curascale/jax)."""
    from curascale.io import cache_directory as user_cache

    return user_cache("jax")


def use_compilation_cache(directory: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in `directory` (default `cache_directory()`), so
    that a second process fitting the same law on data of the same shape does not compile again.

    This sets process-wide JAX options, so only the command line calls it; a library user may.
    Returns the directory, or None (and changes nothing) when it cannot be created or written."""
    import jax

    path = Path(directory) if directory is not None else cache_directory()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
