"""libjoule.so through ctypes: finding it, the C structs, and errors.

The package calls only the C API of include/joule/joule.h, the stable
contract, through the standard library's ctypes: there is nothing to compile,
so the package is pure Python and installs offline.
"""

import ctypes
import ctypes.util
import os
import threading


class JouleError(RuntimeError):
    """joule's one-line message for a failed call or bad input."""


class LibraryNotFoundError(JouleError, ImportError):
    """libjoule.so could not be loaded; the message lists where joule looked."""


class _Options(ctypes.Structure):
    # Field for field joule_options in joule.h, in its order.
    _fields_ = [
        ("interval_s", ctypes.c_double),
        ("whole_machine", ctypes.c_int),
        ("country_iso3", ctypes.c_char_p),
        ("intensity_g_per_kwh", ctypes.c_double),
        ("pue", ctypes.c_double),
        ("cpu_tdp_w", ctypes.c_double),
        ("declared_power_w", ctypes.c_double),
        ("ram_power_w", ctypes.c_double),
        ("wue", ctypes.c_double),
        ("cloud_provider", ctypes.c_char_p),
        ("cloud_region", ctypes.c_char_p),
        ("grid_region", ctypes.c_char_p),
        ("power_model", ctypes.c_char_p),
    ]


class _Reading(ctypes.Structure):
    # joule_reading in joule.h.
    _fields_ = [
        ("duration_s", ctypes.c_double),
        ("energy_j", ctypes.c_double),
        ("cpu_j", ctypes.c_double),
        ("gpu_j", ctypes.c_double),
        ("ram_j", ctypes.c_double),
        ("system_j", ctypes.c_double),
        ("emissions_g", ctypes.c_double),
        ("process_share", ctypes.c_double),
        ("estimated", ctypes.c_int),
        ("cpu_method", ctypes.c_char * 32),
        ("gpu_method", ctypes.c_char * 32),
        ("ram_method", ctypes.c_char * 32),
    ]


class _RunOptions(ctypes.Structure):
    # joule_run_options in joule.h.
    _fields_ = [
        ("kind", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("ledger_path", ctypes.c_char_p),
        ("config_json", ctypes.c_char_p),
    ]


_P = ctypes.c_void_p
_S = ctypes.c_char_p
_D = ctypes.c_double
_I = ctypes.c_int
_SIGNATURES = {
    "joule_options_init": (None, [ctypes.POINTER(_Options)]),
    "joule_meter_create": (_P, [ctypes.POINTER(_Options)]),
    "joule_meter_start": (_I, [_P]),
    "joule_meter_read": (_I, [_P, ctypes.POINTER(_Reading)]),
    "joule_task_begin": (_I, [_P, _S]),
    "joule_task_end": (_I, [_P, _S, ctypes.POINTER(_Reading)]),
    "joule_meter_stop": (_I, [_P, ctypes.POINTER(_Reading)]),
    "joule_meter_destroy": (None, [_P]),
    "joule_last_error": (_S, []),
    "joule_meter_sources": (_S, [_P]),
    "joule_run_options_init": (None, [ctypes.POINTER(_RunOptions)]),
    "joule_run_create": (_P, [_P, ctypes.POINTER(_RunOptions)]),
    "joule_run_id": (_S, [_P]),
    "joule_run_add_epoch": (_I, [_P, _I, _D, _D, _D, _S]),
    "joule_run_finish": (_I, [_P, _S, _S, _S]),
    "joule_run_append_codecarbon_csv": (_I, [_P, _S, ctypes.POINTER(_D)]),
}

_lock = threading.Lock()
_lib = None
_path = None


def _candidates():
    """Where libjoule.so may be, in the order documented in docs/python.md."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = os.environ.get("JOULE_LIBRARY")
    if env:
        yield "$JOULE_LIBRARY", env
    yield "beside the package", os.path.join(here, "libjoule.so")
    try:
        from joule._install import LIBRARY  # written by cmake --install
    except ImportError:
        pass
    else:
        yield "where cmake --install put it", LIBRARY
    found = ctypes.util.find_library("joule")
    yield "the system's library path", found or "libjoule.so"
    yield "the source tree's build/", os.path.join(here, "..", "..", "build", "libjoule.so")


def library():
    """The loaded libjoule.so (loaded on first use)."""
    global _lib, _path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for where, path in _candidates():
            # A path that does not exist is not handed to dlopen: a bare name
            # would otherwise be searched for again on the system path.
            if os.sep in path and not os.path.exists(path):
                tried.append("%s (%s: no such file)" % (where, path))
                continue
            try:
                lib = ctypes.CDLL(path)
            except OSError as e:
                tried.append("%s (%s)" % (where, str(e).splitlines()[0] if str(e) else path))
                continue
            try:
                for name, (restype, argtypes) in _SIGNATURES.items():
                    fn = getattr(lib, name)
                    fn.restype = restype
                    fn.argtypes = argtypes
            except AttributeError as e:
                tried.append("%s (%s: not joule's C API of this version: %s)" % (where, path, e))
                continue
            _lib, _path = lib, path
            return lib
        raise LibraryNotFoundError(
            "libjoule.so not found; looked in: " + "; ".join(tried)
            + ". Build it (cmake --build build) and set JOULE_LIBRARY to its path"
        )


def library_path():
    """The path libjoule.so was loaded from (loading it if needed)."""
    library()
    return _path


def last_error():
    message = library().joule_last_error()
    text = message.decode("utf-8", "replace") if message else ""
    return text.splitlines()[0] if text else "unknown error"


def check(rc):
    """Raises JouleError with joule's message when a call returned -1."""
    if rc != 0:
        raise JouleError(last_error())


def text(value, what):
    """A str option as the C API wants it (UTF-8 bytes), or None."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise JouleError("%s: expected a string, got %s" % (what, type(value).__name__))
    if "\0" in value:
        raise JouleError("%s: must not contain a NUL character" % what)
    return value.encode("utf-8")


def number(value, what, default):
    """A float option; None gives `default`. bool is refused (True is not a number of watts)."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise JouleError("%s: expected a number, got %s" % (what, type(value).__name__))
    value = float(value)
    if value != value:
        raise JouleError("%s: expected a number, got NaN" % what)
    return value
