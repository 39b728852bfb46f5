"""Acceptance (c): bad input raises joule.JouleError with joule's one-line
message and never crashes the interpreter."""

import os
import subprocess
import sys
import unittest

import joule_test_util as util
from joule_test_util import joule


class BadInput(util.ScratchDirTest):
    def assertOneLineError(self, fn, *args, contains=None, **kwargs):
        with self.assertRaises(joule.JouleError) as cm:
            fn(*args, **kwargs)
        message = str(cm.exception)
        self.assertTrue(message)
        self.assertEqual(len(message.splitlines()), 1, message)
        if contains:
            self.assertIn(contains, message)
        return message

    def test_bad_options(self):
        def start(**kwargs):
            joule.Tracker(ledger=False, **kwargs).start().stop()

        print(self.assertOneLineError(start, country="XYZ", contains="XYZ"))
        self.assertOneLineError(start, country=42, contains="country")
        self.assertOneLineError(start, interval="1s", contains="interval")
        self.assertOneLineError(start, interval=0, contains="interval")
        self.assertOneLineError(start, pue=0.2)
        self.assertOneLineError(start, intensity=float("nan"), contains="NaN")
        self.assertOneLineError(start, whole_machine="yes", contains="whole_machine")
        self.assertOneLineError(start, power_model="guess", contains="guess")
        self.assertOneLineError(start, grid_region="atlantis", contains="atlantis")
        self.assertOneLineError(start, cpu_tdp=True, contains="cpu_tdp")
        self.assertOneLineError(joule.Tracker, config={"x": object()}, contains="config")
        self.assertOneLineError(joule.Tracker, ledger=True, contains="ledger")
        self.assertOneLineError(joule.Tracker, name=b"bytes", contains="name")

    def test_misuse(self):
        t = joule.Tracker(ledger=False, interval=0.05)
        self.assertOneLineError(t.stop, contains="start()")
        self.assertOneLineError(t.start_task, "x", contains="start()")
        self.assertOneLineError(t.stop_task, "x", contains="start()")
        t.start()
        self.assertOneLineError(t.start, contains="already running")
        self.assertOneLineError(t.stop_task, "never", contains="never")
        self.assertOneLineError(t.stop_task, 7)
        self.assertOneLineError(t.start_task, None, contains="string")
        self.assertOneLineError(t.start_task, "a\0b")
        t.start_task("dup")
        self.assertOneLineError(t.start_task, "dup", contains="dup")
        self.assertOneLineError(t.add_epoch, 0, t.read(), contains=">= 1")
        self.assertOneLineError(t.add_epoch, 1, t.read(), metrics={"x": object()})
        report = t.stop()
        self.assertEqual([x.name for x in report.tasks], ["dup"])  # ended at stop
        self.assertOneLineError(t.stop)

    def test_a_named_ledger_that_cannot_be_opened(self):
        with open("not-a-db", "w") as f:
            f.write("this is not SQLite" * 100)
        self.assertOneLineError(lambda: joule.Tracker(ledger="not-a-db").start(), contains="not-a-db")

    def test_a_file_that_is_not_an_emissions_csv_is_left_alone(self):
        from joule.codecarbon import EmissionsTracker

        with open("emissions.csv", "w") as f:
            f.write("a,b\n1,2\n")
        t = EmissionsTracker(ledger=False)
        t.start()
        self.assertOneLineError(t.stop, contains="emissions.csv")
        with open("emissions.csv") as f:
            self.assertEqual(f.read(), "a,b\n1,2\n")

    def test_a_missing_library_names_where_it_looked(self):
        env = dict(os.environ, JOULE_LIBRARY="/nonexistent/libjoule.so")
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        code = (
            "import sys, joule._lib as l\n"
            "l._candidates = (lambda orig: lambda: [c for c in orig() if c[0] == '$JOULE_LIBRARY'])(l._candidates)\n"
            "import joule\n"
            "try:\n    joule.Tracker()\n"
            "except joule.JouleError as e:\n    print(type(e).__name__, isinstance(e, ImportError), e)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("LibraryNotFoundError True", out.stdout)
        self.assertIn("/nonexistent/libjoule.so", out.stdout)
        self.assertIn("JOULE_LIBRARY", out.stdout)


if __name__ == "__main__":
    unittest.main()
