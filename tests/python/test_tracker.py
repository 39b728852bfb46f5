"""joule.Tracker: start/stop, context manager, decorator, nested and
overlapping tasks, the ledger's default path under $JOULE_HOME and ledger=False."""

import os
import unittest

import joule_test_util as util
from joule_test_util import joule


def work(n=200000):
    return sum(i * i for i in range(n))


class TrackerTest(util.ScratchDirTest):
    def test_nested_and_overlapping_tasks(self):
        t = joule.Tracker("tasks", interval=0.05, intensity=100)
        t.start()
        t.start_task("outer")
        t.start_task("a")
        work()
        t.start_task("b")  # overlaps a
        work()
        a = t.stop_task("a")
        work()
        b = t.stop_task("b")
        outer = t.stop_task("outer")
        report = t.stop()
        self.assertEqual([x.name for x in report.tasks], ["a", "b", "outer"])
        self.assertLessEqual(a.duration_s, outer.duration_s)
        self.assertLessEqual(b.energy_j, outer.energy_j + 1e-12)
        self.assertLessEqual(outer.energy_j, report.energy_j + 1e-12)
        # A fixed intensity of 100 g/kWh: grams follow from joules.
        self.assertAlmostEqual(report.emissions_g, report.energy_j / 3.6e6 * 100, delta=1e-12)
        self.assertTrue(util.is_method_label(report.method), report.method)
        self.assertEqual(report.estimated, not report.method.startswith("measured:") or "estimated" in report.method)
        self.assertAlmostEqual(report.energy_kwh, report.energy_j / 3.6e6)
        self.assertAlmostEqual(report.cpu_kwh + report.ram_kwh + report.gpu_kwh + report.kwh("system"), report.energy_kwh)
        self.assertEqual(set(report.as_dict()["methods"]), set(report.methods))
        # The default ledger is $JOULE_HOME/ledger.db, as for the joule command.
        self.assertTrue(os.path.exists(os.path.join(os.environ["JOULE_HOME"], "ledger.db")))
        run = util.run_json(t.run_id)
        self.assertEqual([x["name"] for x in run["metrics"]["tasks"]], ["a", "b", "outer"])
        self.assertEqual(run["config"]["python_version"].count("."), 2)

    def test_context_manager_and_decorator(self):
        with joule.Tracker("ctx", interval=0.05) as t:
            work()
        self.assertIsNotNone(t.report)
        self.assertEqual(util.run_json(t.run_id)["status"], "completed")

        tracker = joule.Tracker("decorated", interval=0.05)

        @tracker
        def f(n):
            return work(n)

        self.assertEqual(f(10), work(10))
        first = tracker.run_id
        f(10)
        self.assertNotEqual(tracker.run_id, first)  # one run per call
        self.assertEqual(util.run_json(first)["name"], "decorated")

    def test_an_exception_fails_the_run_and_propagates(self):
        t = joule.Tracker("boom", interval=0.05)
        with self.assertRaises(KeyError):
            with t:
                raise KeyError("k")
        run = util.run_json(t.run_id)
        self.assertEqual(run["status"], "failed")
        self.assertIn("KeyError", run["message"])

    def test_ledger_false_and_a_chosen_ledger(self):
        with joule.Tracker(ledger=False, interval=0.05) as t:
            work()
        self.assertEqual(len(t.run_id), 12)
        path = os.path.join(self.dir, "mine.db")
        with joule.Tracker("chosen", ledger=path, interval=0.05) as t2:
            work()
        self.assertEqual(util.run_json(t2.run_id, ledger=path)["name"], "chosen")

    def test_library_path_is_the_one_ctest_built(self):
        expected = os.environ.get("JOULE_LIBRARY")
        if expected:
            self.assertEqual(joule.library_path(), expected)


if __name__ == "__main__":
    unittest.main()
