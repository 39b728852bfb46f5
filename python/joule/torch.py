"""Epochs and steps of a PyTorch training loop, each epoch's energy logged.

    from joule.torch import TrainingTracker
    with TrainingTracker("mnist-mlp", country="FRA") as tt:
        for epoch in tt.epochs(2):
            for x, y in tt.steps(loader):
                ...
            tt.log(loss=float(loss))
    print(tt.logs)   # one dict per epoch: energy_j, method, gCO2eq, steps, loss

Each epoch is a task named "epoch-N" of one joule run and a row of the run's
epochs in the ledger (``joule runs show ID``). When CUDA is in use, the GPU is
synchronised at each epoch boundary so that its queued work is counted in the
epoch that issued it.
"""

from joule._lib import JouleError
from joule.tracker import Tracker

__all__ = ["TrainingTracker"]


def _synchronize():
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class TrainingTracker:
    """A joule.Tracker (same arguments) that knows epochs and steps.

    ``logs`` is one dict per finished epoch; ``log_fn`` (default: print)
    receives one line per epoch, None for silence.
    """

    def __init__(self, name="train", log_fn=print, **tracker_options):
        if log_fn is not None and not callable(log_fn):
            raise JouleError("log_fn: expected a function or None")
        self.tracker = Tracker(name, kind="python.train", **tracker_options)
        self.logs = []
        self._log_fn = log_fn
        self._epoch = None
        self._steps = 0
        self._metrics = {}

    def start(self):
        self.tracker.start()
        return self

    def stop(self):
        """Stops and records the run; returns its EnergyReport."""
        return self.tracker.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        return self.tracker.__exit__(exc_type, exc, tb)

    def epochs(self, count, first=1):
        """Yields epoch numbers first..first+count-1, each one a task."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise JouleError("epochs: count: expected an int >= 0")
        if isinstance(first, bool) or not isinstance(first, int) or first < 1:
            raise JouleError("epochs: first: expected an int >= 1")
        if not self.tracker.running:
            self.start()
        for epoch in range(first, first + count):
            name = "epoch-%d" % epoch
            self._epoch, self._steps, self._metrics = epoch, 0, {}
            _synchronize()
            self.tracker.start_task(name)
            finished = False
            try:
                yield epoch
                finished = True
            finally:
                _synchronize()
                report = self.tracker.stop_task(name)
                self._epoch = None
                if finished:
                    self._finish_epoch(epoch, report)

    def steps(self, iterable):
        """Yields from `iterable`, counting the steps of the current epoch."""
        for item in iterable:
            self._steps += 1
            yield item

    def step(self):
        """Marks one step (for loops that do not iterate through steps())."""
        self._steps += 1

    def log(self, **metrics):
        """Numbers for the current epoch's row (loss=..., accuracy=...)."""
        for key, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise JouleError("log: %s: expected a number, got %s" % (key, type(value).__name__))
            self._metrics[key] = float(value)

    def _finish_epoch(self, epoch, report):
        row = dict(self._metrics)
        row["steps"] = self._steps
        self.tracker.add_epoch(epoch, report, row)
        entry = {
            "epoch": epoch,
            "seconds": report.duration_s,
            "energy_j": report.energy_j,
            "emissions_g": report.emissions_g,
            "method": report.method,
            "estimated": report.estimated,
            "steps": self._steps,
            "energy_j_per_step": report.energy_j / self._steps if self._steps else None,
        }
        entry.update(self._metrics)
        self.logs.append(entry)
        if self._log_fn is not None:
            extra = "".join(" %s=%.4g" % (k, v) for k, v in self._metrics.items())
            self._log_fn(
                "epoch %d: %.4g J (%s), %.4g gCO2eq, %.2f s, %d steps%s"
                % (epoch, report.energy_j, report.method, report.emissions_g, report.duration_s, self._steps, extra)
            )
