"""joule: the energy and carbon of Python code, from joule's C library.

    import joule
    with joule.Tracker("train", country="FRA") as tracker:
        tracker.start_task("epoch-1")
        ...
        tracker.stop_task("epoch-1")
    print(tracker.report)   # joules per component, method labels, gCO2eq

The package calls libjoule.so (joule's C API, include/joule/joule.h) through
ctypes: it is pure Python, installs without a compiler or network, and
finds the library through $JOULE_LIBRARY, beside itself, where
`cmake --install` put it, the system's library path, or the source tree's
build/ (docs/python.md). Submodules: joule.codecarbon (a drop-in for
CodeCarbon's trackers), joule.torch (epochs and steps of a PyTorch loop).
"""

from joule._lib import JouleError, LibraryNotFoundError, library_path
from joule.tracker import EnergyReport, Tracker

__version__ = "0.1.0"
__all__ = ["EnergyReport", "JouleError", "LibraryNotFoundError", "Tracker", "library_path"]
