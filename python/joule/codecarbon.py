"""A drop-in for CodeCarbon's trackers, metered by joule.

    from joule.codecarbon import EmissionsTracker
    tracker = EmissionsTracker()
    tracker.start()
    ...
    emissions = tracker.stop()   # kg CO2eq, the emissions.csv row's `emissions`

The constructor takes CodeCarbon's arguments. Those joule honours change what
it does (project_name, experiment_id, output_dir, output_file, save_to_file,
measure_power_secs, tracking_mode, pue, wue, country_iso_code, region,
cloud_provider, cloud_region, force_cpu_power, force_ram_power, log_level,
on_csv_write="append"); the others (an API, Prometheus or logger output,
gpu_ids, ...) are accepted, and one warning names every one given a value
other than CodeCarbon's default. The file is CodeCarbon's emissions.csv, the
same 38 columns, appended to with the header written once; the run is also in
joule's ledger (``joule runs``), unless ``ledger=False``.
"""

import difflib
import functools
import logging
import os
import uuid
import warnings

from joule._lib import JouleError
from joule.tracker import Tracker

__all__ = ["EmissionsTracker", "OfflineEmissionsTracker", "track_emissions", "EmissionsData"]

_log = logging.getLogger("joule.codecarbon")

# CodeCarbon's default experiment id (the ledger's CSV exporter writes the same).
_DEFAULT_EXPERIMENT_ID = "5b0fa12a-3dd7-45bb-9766-cc326314d9f1"

# Arguments of CodeCarbon's trackers that joule accepts without acting on
# them, with CodeCarbon's defaults: giving one another value is warned about.
_NOT_HONOURED = {
    "api_call_interval": 8,
    "api_endpoint": None,
    "api_key": None,
    "save_to_api": False,
    "save_to_logger": False,
    "logging_logger": None,
    "save_to_prometheus": False,
    "save_to_logfire": False,
    "prometheus_url": None,
    "output_handlers": None,
    "gpu_ids": None,
    "emissions_endpoint": None,
    "co2_signal_api_token": None,
    "electricitymaps_api_token": None,
    "logger_preamble": "",
    "default_cpu_power": None,
    "allow_multiple_runs": True,
    "rapl_include_dram": False,
    "rapl_prefer_psys": False,
    "country_2letter_iso_code": None,
}

_HONOURED = (
    "project_name",
    "measure_power_secs",
    "output_dir",
    "output_file",
    "save_to_file",
    "on_csv_write",
    "experiment_id",
    "experiment_name",
    "tracking_mode",
    "log_level",
    "pue",
    "wue",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "force_cpu_power",
    "force_ram_power",
)

_LOG_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


class EmissionsData:
    """What CodeCarbon's stop_task returns: a task's figures in CodeCarbon's
    units (kg, kWh, W, s; energies with the PUE applied)."""

    def __init__(self, report, pue, project_name, experiment_id, run_id, task_name):
        self.task_name = task_name
        self.project_name = project_name
        self.experiment_id = experiment_id
        self.run_id = run_id
        self.duration = report.duration_s
        self.emissions = report.emissions_g / 1000.0
        self.emissions_rate = self.emissions / report.duration_s if report.duration_s > 0 else 0.0
        d = report.duration_s
        self.cpu_power = report.cpu_j / d if d > 0 else 0.0
        self.gpu_power = report.gpu_j / d if d > 0 else 0.0
        self.ram_power = report.ram_j / d if d > 0 else 0.0
        self.cpu_energy = report.cpu_j / 3.6e6 * pue
        self.gpu_energy = report.gpu_j / 3.6e6 * pue
        self.ram_energy = report.ram_j / 3.6e6 * pue
        self.energy_consumed = report.energy_j / 3.6e6 * pue
        self.pue = pue
        self.methods = dict(report.methods)
        self.estimated = report.estimated

    def __repr__(self):
        return "EmissionsData(task_name=%r, emissions=%r, energy_consumed=%r, duration=%r)" % (
            self.task_name,
            self.emissions,
            self.energy_consumed,
            self.duration,
        )


class EmissionsTracker:
    """CodeCarbon's EmissionsTracker, metered by joule (see the module's doc).

    Without a location (country_iso_code, region or cloud_*), CodeCarbon
    looks one up online; joule does not go online and uses the world average
    intensity (475 g/kWh, CodeCarbon's own fallback), which the run's
    intensity source says.
    """

    _offline = False

    def __init__(
        self,
        project_name="codecarbon",
        measure_power_secs=15,
        output_dir=".",
        output_file="emissions.csv",
        save_to_file=True,
        on_csv_write="append",
        experiment_id=None,
        experiment_name=None,
        tracking_mode="machine",
        log_level="info",
        pue=1.0,
        wue=0.0,
        country_iso_code=None,
        region=None,
        cloud_provider=None,
        cloud_region=None,
        force_cpu_power=None,
        force_ram_power=None,
        ledger=None,
        **others
    ):
        unknown = [k for k in others if k not in _NOT_HONOURED]
        if unknown:
            known = list(_HONOURED) + list(_NOT_HONOURED)
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, known, n=1)
                hints.append(name + (" (did you mean %s?)" % close[0] if close else ""))
            raise JouleError(
                "%s: unknown argument%s %s" % (type(self).__name__, "s" if len(unknown) > 1 else "", ", ".join(hints))
            )
        ignored = sorted(k for k, v in others.items() if v != _NOT_HONOURED[k])
        if on_csv_write != "append":
            ignored.append("on_csv_write=%r (joule appends)" % (on_csv_write,))
        if ignored:
            # One warning naming them all, from the caller's line.
            warnings.warn(
                "joule.codecarbon: these arguments are accepted but not honoured: " + ", ".join(ignored),
                stacklevel=2,
            )
        if tracking_mode not in ("machine", "process"):
            raise JouleError("tracking_mode %r: expected 'machine' or 'process'" % (tracking_mode,))
        if not isinstance(log_level, (str, int)) or isinstance(log_level, bool):
            raise JouleError("log_level: expected a name such as 'info' or a logging level")
        if isinstance(log_level, str):
            if log_level.lower() not in _LOG_LEVELS:
                raise JouleError(
                    "log_level %r: expected one of %s" % (log_level, ", ".join(_LOG_LEVELS))
                )
            log_level = _LOG_LEVELS[log_level.lower()]
        _log.setLevel(log_level)
        for name, value in (("project_name", project_name), ("output_dir", output_dir), ("output_file", output_file)):
            if not isinstance(value, (str, os.PathLike)):
                raise JouleError("%s: expected a string, got %s" % (name, type(value).__name__))
        if not isinstance(save_to_file, bool):
            raise JouleError("save_to_file: expected True or False")
        if experiment_id is not None and not isinstance(experiment_id, str):
            raise JouleError("experiment_id: expected a string")
        self._project_name = os.fspath(project_name)
        self._experiment_id = experiment_id or _DEFAULT_EXPERIMENT_ID
        self._output_path = os.path.join(os.fspath(output_dir), os.fspath(output_file))
        self._save_to_file = save_to_file
        self._pue = pue if pue is not None else 1.0
        config = {"project_name": self._project_name, "experiment_id": self._experiment_id}
        if experiment_name is not None:
            config["experiment_name"] = str(experiment_name)
        if cloud_provider is not None or cloud_region is not None:
            cloud, cloud_reg = cloud_provider, cloud_region
        else:
            cloud, cloud_reg = None, None
        self._tracker = Tracker(
            self._project_name,
            country=country_iso_code,
            grid_region=region,
            cloud=cloud,
            region=cloud_reg,
            pue=pue,
            wue=wue,
            interval=measure_power_secs,
            whole_machine=tracking_mode == "machine",
            cpu_tdp=force_cpu_power,
            ram_power=force_ram_power,
            ledger=ledger,
            kind="codecarbon",
            config=config,
        )
        self._tasks = {}
        self.final_emissions = None
        self.final_emissions_data = None

    # CodeCarbon's tracker API ------------------------------------------------

    def start(self):
        self._tracker.start()
        _log.info("joule: tracking %s (%s)", self._project_name, self._tracker.sources.strip().replace("\n", "; "))

    def stop(self):
        """Stops, appends the emissions.csv row and returns its `emissions` (kg CO2eq)."""
        if not self._tracker.running:
            raise JouleError("stop: the tracker is not running; call start() first")
        path = self._output_path if self._save_to_file else None
        report, kg = self._tracker._stop("completed", None, None, path)
        if kg is None:
            # Not saved: the same figure the row would hold (operational carbon).
            kg = report.emissions_g / 1000.0
        self.final_emissions = kg
        self.final_emissions_data = EmissionsData(
            report, self._pue, self._project_name, self._experiment_id, report.run_id, None
        )
        _log.info("joule: %.6g kg CO2eq (%s)%s", kg, report.method, " -> " + path if path else "")
        return kg

    def start_task(self, task_name=None):
        if task_name is None:
            task_name = str(uuid.uuid4())
        self._tracker.start_task(task_name)
        return task_name

    def stop_task(self, task_name=None):
        if task_name is None:
            open_tasks = list(self._tracker._open)
            if not open_tasks:
                raise JouleError("stop_task: no task is open (start_task first)")
            task_name = open_tasks[-1]
        report = self._tracker.stop_task(task_name)
        data = EmissionsData(
            report, self._pue, self._project_name, self._experiment_id, self._tracker.run_id, task_name
        )
        self._tasks[task_name] = data
        return data

    def flush(self):
        """CodeCarbon writes an intermediate row here; joule's ledger already has
        every sample, so this returns the emissions so far (kg) and writes nothing."""
        report = self._tracker.read()
        return report.emissions_g / 1000.0

    @property
    def run_id(self):
        return self._tracker.run_id

    @property
    def report(self):
        """joule's EnergyReport of the last run (method labels included)."""
        return self._tracker.report

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._tracker.running:
            self.stop()
        return False


class OfflineEmissionsTracker(EmissionsTracker):
    """CodeCarbon's offline tracker: the location comes from country_iso_code
    (or region, cloud_*), never from the network; joule never goes online."""

    _offline = True


def track_emissions(fn=None, *, offline=False, **kwargs):
    """CodeCarbon's decorator: each call of the function is one tracked run.
    Works bare (@track_emissions) or with arguments (@track_emissions(project_name=...))."""
    if fn is not None and not callable(fn):
        raise JouleError("track_emissions: expected a function or keyword arguments")
    cls = OfflineEmissionsTracker if offline else EmissionsTracker

    def decorate(f):
        @functools.wraps(f)
        def wrapped(*args, **kw):
            tracker = cls(**kwargs)
            tracker.start()
            try:
                return f(*args, **kw)
            finally:
                tracker.stop()

        return wrapped

    return decorate(fn) if fn is not None else decorate
