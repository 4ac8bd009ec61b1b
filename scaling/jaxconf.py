"""Float64 for fitting without global state, and the opt-in cache of compiled fits.

The cache never stops a fit: a folder that cannot be created or written means no cache (the fit
compiles), an entry JAX cannot read or write is compiled again (JAX's warnings about it are
gathered by `cache_trouble`, for one line to the user), and CURASCALE_COMPILE_CACHE=off (or 0,
no, false) turns the cache off.

curascale fits in float64 (LAWS.md §7) but never flips JAX's process-wide x64 switch: the
entry points that compute with JAX run under `float64`, which turns on JAX's x64 mode
(`jax.enable_x64`) for the call and restores the caller's mode after, so a user's float32 program
in the same process keeps its dtypes. Arrays made inside stay inside: results leave as numpy
float64 or Python floats.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Iterator, TypeVar

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
    Returns the directory, or None (and changes nothing) when it cannot be created or written or
    when $CURASCALE_COMPILE_CACHE is off (0, no, false)."""
    if cache_switched_off():
        return None
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


MAX_CPU_DEVICES = 8  # each CPU device compiles the solver's chunk once (its own cache entry)


def use_cpu_cores(count: int | None = None) -> int:
    """Split JAX's CPU into `count` devices (default: the cores this process may run on, at most
    MAX_CPU_DEVICES), so that the batched solver advances one block of starts on each at once
    (scaling.solver); the results are the same bytes, each start's steps being its own.

    Process-wide and possible only before JAX's first computation (JAX's rule), so only the
    command line calls it, first thing; a library user may. Returns the number of CPU devices
    the process has (unchanged, and no error, when JAX has already computed or the platform is
    not the CPU)."""
    import jax

    wanted = count or min(MAX_CPU_DEVICES, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    try:
        jax.config.update("jax_num_cpu_devices", max(1, int(wanted)))
    except RuntimeError:  # JAX has computed already: its devices stay
        pass
    return len(jax.devices("cpu"))


CACHE_SWITCH = "CURASCALE_COMPILE_CACHE"  # off, 0, no or false: no persistent cache of compiled fits
CACHE_WARNING = r"Error (reading|writing) persistent compilation cache"  # the start of JAX's warnings about an entry (jax/_src/compiler.py)


def cache_switched_off() -> bool:
    """True when $CURASCALE_COMPILE_CACHE is off, 0, no or false (any case)."""
    return os.environ.get(CACHE_SWITCH, "").strip().lower() in ("off", "0", "no", "false")


@contextlib.contextmanager
def cache_trouble() -> Iterator[list[str]]:
    """Collects, instead of printing, JAX's warnings about cache entries it could not read (a
    corrupt or truncated file) or write (a full or read-only disk); JAX compiled instead, so the
    results are unchanged. Yields the list the warnings' first lines are appended to."""
    seen: list[str] = []
    shown = warnings.showwarning

    def gather(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if issubclass(category, UserWarning) and re.match(CACHE_WARNING, text):
            seen.append(text.splitlines()[0])
        else:
            shown(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.filterwarnings("always", message=CACHE_WARNING, category=UserWarning)  # every entry, not once per call site
        warnings.showwarning = gather
        yield seen
