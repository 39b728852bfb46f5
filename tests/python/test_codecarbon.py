"""Acceptance (b): joule.codecarbon.EmissionsTracker used as CodeCarbon's
documentation shows writes emissions.csv with CodeCarbon's 38 columns, and
stop() returns the kg of the row's `emissions`."""

import csv
import os
import unittest
import warnings

import joule_test_util as util
from joule_test_util import joule

# CodeCarbon's emissions.csv header (its 38 columns, in its order).
CODECARBON_COLUMNS = (
    "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,"
    "cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,"
    "water_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,"
    "python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,"
    "latitude,ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,"
    "ram_utilization_percent,ram_used_gb,on_cloud,pue,wue"
).split(",")


def work():
    return sum(i * i for i in range(300000))


class CodeCarbonDropIn(util.ScratchDirTest):
    def read_rows(self, path="emissions.csv"):
        with open(path, newline="") as f:
            return list(csv.reader(f))

    def test_the_documented_usage_writes_the_row_stop_returns(self):
        from joule.codecarbon import EmissionsTracker

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the defaults warn about nothing
            tracker = EmissionsTracker()
        tracker.start()
        work()
        emissions = tracker.stop()

        rows = self.read_rows()
        self.assertEqual(rows[0], CODECARBON_COLUMNS)
        self.assertEqual(len(rows[0]), 38)
        self.assertEqual(len(rows), 2)
        row = dict(zip(rows[0], rows[1]))
        self.assertEqual(len(rows[1]), 38)
        self.assertEqual(float(row["emissions"]), emissions)  # exactly: shortest round-trip form
        self.assertIsInstance(emissions, float)
        self.assertGreater(emissions, 0)
        self.assertEqual(row["project_name"], "codecarbon")
        self.assertEqual(row["tracking_mode"], "machine")
        self.assertTrue(row["run_id"].endswith(tracker.run_id))
        self.assertEqual(row["python_version"].count("."), 2)
        print("emissions.csv row: emissions=%s kg, stop() returned %r" % (row["emissions"], emissions))

        # The run is in the ledger too, its energy labelled.
        run = util.run_json(tracker.run_id)
        self.assertEqual(run["kind"], "codecarbon")
        self.assertTrue(util.is_method_label(run["energy"]["method"]))

        # A second run appends one row under the same header.
        tracker2 = EmissionsTracker(project_name="second", tracking_mode="process")
        tracker2.start()
        work()
        second = tracker2.stop()
        rows = self.read_rows()
        self.assertEqual(len(rows), 3)
        self.assertEqual(rows[2][1], "second")
        self.assertEqual(float(rows[2][5]), second)
        self.assertEqual(rows[2][CODECARBON_COLUMNS.index("tracking_mode")], "process")

    def test_arguments_tasks_offline_and_the_decorator(self):
        from joule.codecarbon import OfflineEmissionsTracker, track_emissions

        os.mkdir("out")
        tracker = OfflineEmissionsTracker(
            project_name="p",
            country_iso_code="FRA",
            output_dir="out",
            output_file="e.csv",
            measure_power_secs=0.05,
            pue=1.5,
            log_level="error",
            experiment_id="exp-1",
        )
        tracker.start()
        task = tracker.start_task("load")
        self.assertEqual(task, "load")
        work()
        data = tracker.stop_task("load")
        self.assertEqual(data.task_name, "load")
        self.assertGreaterEqual(data.emissions, 0)
        kg = tracker.stop()
        row = dict(zip(*self.read_rows("out/e.csv")))
        self.assertEqual(float(row["emissions"]), kg)
        self.assertEqual(row["country_iso_code"], "FRA")
        self.assertEqual(float(row["pue"]), 1.5)
        self.assertEqual(row["experiment_id"], "exp-1")
        run = util.run_json(tracker.run_id)
        self.assertEqual([t["name"] for t in run["metrics"]["tasks"]], ["load"])

        @track_emissions(project_name="decorated", save_to_file=False, ledger=False)
        def f(x):
            return x + 1

        self.assertEqual(f(1), 2)
        self.assertFalse(os.path.exists("emissions.csv"))

    def test_arguments_joule_cannot_honour_warn_once_naming_them_all(self):
        from joule.codecarbon import EmissionsTracker

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            EmissionsTracker(save_to_api=True, gpu_ids=[0], api_key="k", save_to_file=False)
        self.assertEqual(len(caught), 1)
        message = str(caught[0].message)
        for name in ("save_to_api", "gpu_ids", "api_key"):
            self.assertIn(name, message)

    def test_bad_arguments_raise_joule_error(self):
        from joule.codecarbon import EmissionsTracker

        for kwargs in (
            {"tracking_mode": "gpu"},
            {"country_iso_code": "XYZ"},
            {"measure_power_secs": "fast"},
            {"pue": 0.5},
            {"log_level": "chatty"},
            {"project_nmae": "typo"},
        ):
            with self.subTest(kwargs=kwargs):
                with self.assertRaises(joule.JouleError) as cm:
                    t = EmissionsTracker(**kwargs)
                    t.start()  # some are found when the meter is made
                    t.stop()
                self.assertEqual(len(str(cm.exception).splitlines()), 1, str(cm.exception))
        with self.assertRaises(joule.JouleError) as cm:
            EmissionsTracker(project_nmae="typo")
        self.assertIn("project_name", str(cm.exception))
        with self.assertRaises(joule.JouleError):
            EmissionsTracker().stop()  # never started


if __name__ == "__main__":
    unittest.main()
