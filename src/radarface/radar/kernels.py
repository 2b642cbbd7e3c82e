"""Whether numba's on-disk cache already holds the CPU render path's compiled kernels.

Every kernel is compiled with `cache=True`: the first run on a machine (or after a change to a
kernel's source) compiles them, about a minute on two cores, and writes them beside the source
(or into numba's user cache where that is read-only); later runs load them in half a second.
"""

from __future__ import annotations

import importlib

#: The modules whose kernels `render` runs on the CPU (simulation, factorised back-projection).
RENDER_KERNEL_MODULES = ("radarface.radar.simulate_numba", "radarface.radar.factorized")


def render_kernels_cached() -> bool:
    """False when the next CPU render will compile kernels first (their cache is missing or
    stale); True when they load from the cache, or when numba's cache cannot be inspected."""
    import numba

    try:
        for name in RENDER_KERNEL_MODULES:
            module = importlib.import_module(name)
            for kernel in vars(module).values():
                if isinstance(kernel, numba.core.registry.CPUDispatcher) and (
                    kernel.__module__ == name and not kernel._cache._cache_file._load_index()
                ):
                    return False
    except AttributeError:  # numba's cache internals changed: assume cached
        return True
    return True
