"""Import this before using JAX in curascale: fits are computed in float64 (DEVELOPERS.md)."""

import jax

jax.config.update("jax_enable_x64", True)
