"""joule.Tracker: the energy and carbon of a piece of Python, recorded in
joule's ledger with its named tasks."""

import ctypes
import functools
import json
import platform

from joule import _lib
from joule._lib import JouleError

_COMPONENTS = ("cpu", "gpu", "ram", "system")


class EnergyReport:
    """The figures of a run or of one task, as joule's EnergyReport has them.

    Energies in joules (``energy_j``, ``cpu_j``, ...) and kWh (``energy_kwh``),
    carbon in grams and kg CO2eq. ``methods`` maps each component to how its
    figure was obtained ("measured:rapl", "estimated:tdp-model", ...);
    ``estimated`` is True when any figure is not a measurement.
    """

    def __init__(self, reading, name=None, run_id=None, tasks=None):
        self.name = name
        self.run_id = run_id
        self.duration_s = reading.duration_s
        self.energy_j = reading.energy_j
        self.cpu_j = reading.cpu_j
        self.gpu_j = reading.gpu_j
        self.ram_j = reading.ram_j
        self.system_j = reading.system_j
        self.emissions_g = reading.emissions_g
        self.process_share = reading.process_share
        self.estimated = bool(reading.estimated)
        self.methods = {}
        for component, raw in (
            ("cpu", reading.cpu_method),
            ("gpu", reading.gpu_method),
            ("ram", reading.ram_method),
        ):
            label = raw.decode("utf-8", "replace")
            if label:
                self.methods[component] = label
        self.tasks = list(tasks or [])

    @property
    def energy_kwh(self):
        return self.energy_j / 3.6e6

    @property
    def emissions_kg(self):
        return self.emissions_g / 1000.0

    @property
    def method(self):
        """The distinct method labels joined by "+", as the ledger shows them."""
        seen = []
        for label in self.methods.values():
            for part in label.split("+"):
                if part not in seen:
                    seen.append(part)
        return "+".join(seen)

    @property
    def cpu_kwh(self):
        return self.cpu_j / 3.6e6

    @property
    def gpu_kwh(self):
        return self.gpu_j / 3.6e6

    @property
    def ram_kwh(self):
        return self.ram_j / 3.6e6

    def kwh(self, component):
        """kWh of one component: "cpu", "gpu", "ram" or "system"."""
        if component not in _COMPONENTS:
            raise JouleError("component %r: expected one of %s" % (component, ", ".join(_COMPONENTS)))
        return getattr(self, component + "_j") / 3.6e6

    def as_dict(self):
        d = {
            "name": self.name,
            "run_id": self.run_id,
            "duration_s": self.duration_s,
            "energy_j": self.energy_j,
            "energy_kwh": self.energy_kwh,
            "kwh": {c: self.kwh(c) for c in _COMPONENTS},
            "cpu_j": self.cpu_j,
            "gpu_j": self.gpu_j,
            "ram_j": self.ram_j,
            "system_j": self.system_j,
            "emissions_g": self.emissions_g,
            "process_share": self.process_share,
            "estimated": self.estimated,
            "methods": dict(self.methods),
        }
        if self.tasks:
            d["tasks"] = [t.as_dict() for t in self.tasks]
        return d

    def __repr__(self):
        what = "task %r" % self.name if self.name else "run %s" % self.run_id
        return "<EnergyReport %s: %.6g J (%s%s), %.6g gCO2eq, %.3f s>" % (
            what,
            self.energy_j,
            self.method or "not metered",
            ", estimated" if self.estimated else "",
            self.emissions_g,
            self.duration_s,
        )


class Tracker:
    """Meters this process (or the whole machine) from start() to stop().

    Use it as a context manager, a decorator, or with start()/stop(). Named
    tasks (start_task/stop_task) may nest and overlap. The run is recorded in
    joule's ledger (``joule runs`` lists it) with every task's figures, unless
    ``ledger=False``.

    Carbon options are the joule command's: ``country`` (ISO 3166 alpha-3,
    "FRA"), ``intensity`` (g/kWh), ``pue``, ``wue``, ``cloud`` with
    ``region``, ``grid_region``; sensors: ``interval`` (s between samples),
    ``whole_machine``, ``cpu_tdp`` and ``ram_power`` (W, for the TDP model),
    ``power`` (the machine's wall power, W), ``power_model`` ("joule" or
    "codecarbon"). ``ledger``: None for the joule command's default ledger
    ($JOULE_HOME/ledger.db, ...), a path for another, False for none.
    """

    def __init__(
        self,
        name=None,
        *,
        country=None,
        intensity=None,
        pue=None,
        wue=None,
        cloud=None,
        region=None,
        grid_region=None,
        interval=None,
        whole_machine=False,
        cpu_tdp=None,
        ram_power=None,
        power=None,
        power_model=None,
        ledger=None,
        kind="python",
        config=None,
    ):
        lib = _lib.library()
        self._options = _lib._Options()
        lib.joule_options_init(ctypes.byref(self._options))
        o = self._options
        # Kept alive here: the struct holds only pointers into these bytes.
        self._keep = [
            _lib.text(country, "country"),
            _lib.text(cloud, "cloud"),
            _lib.text(region, "region"),
            _lib.text(grid_region, "grid_region"),
            _lib.text(power_model, "power_model"),
        ]
        o.country_iso3, o.cloud_provider, o.cloud_region, o.grid_region, o.power_model = self._keep
        o.interval_s = _lib.number(interval, "interval", o.interval_s)
        o.intensity_g_per_kwh = _lib.number(intensity, "intensity", o.intensity_g_per_kwh)
        o.pue = _lib.number(pue, "pue", o.pue)
        o.wue = _lib.number(wue, "wue", o.wue)
        o.cpu_tdp_w = _lib.number(cpu_tdp, "cpu_tdp", o.cpu_tdp_w)
        o.ram_power_w = _lib.number(ram_power, "ram_power", o.ram_power_w)
        o.declared_power_w = _lib.number(power, "power", o.declared_power_w)
        if not isinstance(whole_machine, bool):
            raise JouleError("whole_machine: expected True or False, got %s" % type(whole_machine).__name__)
        o.whole_machine = 1 if whole_machine else 0
        self.name = _lib.text(name, "name")
        self._kind = _lib.text(kind, "kind")
        if ledger is False:
            self._ledger = b""
        elif ledger is None:
            self._ledger = None
        elif ledger is True:
            raise JouleError("ledger: expected a path, None (the default ledger) or False (none)")
        else:
            self._ledger = _lib.text(ledger, "ledger")
            if not self._ledger:
                raise JouleError("ledger: empty path; give a file, None or False")
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise JouleError("config: expected a dict, got %s" % type(config).__name__)
        config = dict(config)
        config.setdefault("python_version", platform.python_version())
        try:
            self._config = json.dumps(config).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise JouleError("config: not JSON-serialisable: %s" % e) from None
        self._meter = None
        self._run = None
        self._open = {}
        self._tasks = []
        self.report = None
        self.run_id = None
        self.sources = ""
        self._lib = lib

    # -- start and stop ----------------------------------------------------

    def start(self):
        """Discovers the sensors and starts metering. Raises JouleError when running."""
        if self._meter is not None:
            raise JouleError("start: the tracker is already running; call stop() first")
        lib = self._lib
        meter = lib.joule_meter_create(ctypes.byref(self._options))
        if not meter:
            raise JouleError(_lib.last_error())
        try:
            ro = _lib._RunOptions()
            lib.joule_run_options_init(ctypes.byref(ro))
            ro.kind = self._kind
            ro.name = self.name
            ro.ledger_path = self._ledger
            ro.config_json = self._config
            run = lib.joule_run_create(meter, ctypes.byref(ro))
            if not run:
                raise JouleError(_lib.last_error())
            _lib.check(lib.joule_meter_start(meter))
        except BaseException:
            lib.joule_meter_destroy(meter)
            raise
        self.sources = (lib.joule_meter_sources(meter) or b"").decode("utf-8", "replace")
        self._meter, self._run = meter, run
        self._open = {}
        self._tasks = []
        self.report = None
        self.run_id = lib.joule_run_id(run).decode()
        return self

    def stop(self):
        """Stops metering, records the run and returns its EnergyReport
        (with the tasks in ``.tasks``). Tasks still open are ended first."""
        return self._stop("completed", None, None, None)[0]

    def _stop(self, status, message, metrics, csv_path):
        """Stops, finishes the run, appends its CodeCarbon row when csv_path
        is given, frees the meter. Returns (report, the row's kg or None)."""
        if self._meter is None:
            raise JouleError("stop: the tracker is not running; call start() first")
        lib = self._lib
        meter, run = self._meter, self._run
        try:
            for name in list(self._open):
                self.stop_task(name)
            reading = _lib._Reading()
            _lib.check(lib.joule_meter_stop(meter, ctypes.byref(reading)))
            metrics_json = json.dumps(metrics).encode("utf-8") if metrics else None
            _lib.check(
                lib.joule_run_finish(
                    run,
                    status.encode(),
                    message.encode("utf-8", "replace") if message else None,
                    metrics_json,
                )
            )
            self.run_id = lib.joule_run_id(run).decode()
            kg = None
            if csv_path is not None:
                out = ctypes.c_double()
                _lib.check(
                    lib.joule_run_append_codecarbon_csv(run, _lib.text(csv_path, "output file"), ctypes.byref(out))
                )
                kg = out.value
            self.report = EnergyReport(reading, run_id=self.run_id, tasks=self._tasks)
        finally:
            self._meter = self._run = None
            self._open = {}
            lib.joule_meter_destroy(meter)  # a run not finished above is stored as failed
        return self.report, kg

    def add_epoch(self, epoch, report, metrics=None):
        """Adds an epoch row (``joule runs show`` lists them) from a task's report."""
        if self._run is None:
            raise JouleError("add_epoch: the tracker is not running")
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            raise JouleError("add_epoch: epoch: expected an int >= 1")
        try:
            metrics_json = json.dumps(metrics or {}).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise JouleError("add_epoch: metrics: not JSON-serialisable: %s" % e) from None
        _lib.check(
            self._lib.joule_run_add_epoch(
                self._run, epoch, report.duration_s, report.energy_j, report.emissions_g, metrics_json
            )
        )

    @property
    def running(self):
        return self._meter is not None

    # -- tasks ---------------------------------------------------------------

    def start_task(self, name):
        """Begins the named task; names must differ among open tasks."""
        if self._meter is None:
            raise JouleError("start_task: the tracker is not running; call start() first")
        if not isinstance(name, str):
            raise JouleError("start_task: task name: expected a string, got %s" % type(name).__name__)
        raw = name.encode("utf-8")
        if b"\0" in raw:  # C would see only the part before it
            raise JouleError("start_task: task name must not contain a NUL character")
        if self._lib.joule_task_begin(self._meter, raw) != 0:
            raise JouleError(_lib.last_error())
        self._open[name] = raw

    def stop_task(self, name):
        """Ends the named task and returns its EnergyReport."""
        if self._meter is None:
            raise JouleError("stop_task: the tracker is not running; call start() first")
        raw = self._open.pop(name, None)
        if raw is None:
            if not isinstance(name, str):
                raise JouleError("stop_task: task name: expected a string, got %s" % type(name).__name__)
            raise JouleError("stop_task(%r): no open task of that name (start_task first)" % name)
        reading = _lib._Reading()
        if self._lib.joule_task_end(self._meter, raw, ctypes.byref(reading)) != 0:
            raise JouleError(_lib.last_error())
        report = EnergyReport(reading, name=name, run_id=self.run_id)
        self._tasks.append(report)
        return report

    def read(self):
        """The totals so far, without stopping."""
        if self._meter is None:
            raise JouleError("read: the tracker is not running; call start() first")
        reading = _lib._Reading()
        _lib.check(self._lib.joule_meter_read(self._meter, ctypes.byref(reading)))
        return EnergyReport(reading, run_id=self.run_id, tasks=self._tasks)

    # -- context manager and decorator ----------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if self._meter is None:
            return False
        if exc_type is None:
            self._stop("completed", None, None, None)
        else:
            status = "stopped" if issubclass(exc_type, KeyboardInterrupt) else "failed"
            self._stop(status, "%s: %s" % (exc_type.__name__, exc), None, None)
        return False

    def __call__(self, fn):
        """As a decorator: each call of ``fn`` is one run."""

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return wrapped

    def __del__(self):
        # A tracker dropped while running frees its meter; the ledger keeps
        # the run as failed with the figures of its last sample.
        meter = getattr(self, "_meter", None)
        if meter:
            self._meter = None
            try:
                self._lib.joule_meter_destroy(meter)
            except Exception:
                pass
