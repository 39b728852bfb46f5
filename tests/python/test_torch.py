"""Acceptance (a): a small PyTorch model trained for 2 epochs inside
joule.Tracker with a task per epoch is in the ledger with both tasks, its
energy labelled; and the joule.torch helper records epoch rows."""

import os
import subprocess
import unittest

import joule_test_util as util
from joule_test_util import joule

try:
    import torch
    from torch import nn
except ImportError:  # Debian's python3-torch; a Python without it fails here
    torch = None


# Big enough that an epoch spans more than the meter's 10 ms task resolution
# (about 60 ms here), small enough for a unit test.
def make_problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 1))
    x = torch.randn(16384, 32)
    y = x.sum(dim=1, keepdim=True)
    return model, x, y, torch.optim.SGD(model.parameters(), lr=0.02)


def train_epoch(model, x, y, optimizer):
    total = 0.0
    for i in range(0, len(x), 64):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x[i : i + 64]), y[i : i + 64])
        loss.backward()
        optimizer.step()
        total += float(loss)
    return total / (len(x) // 64)


@unittest.skipIf(torch is None, "needs PyTorch (Debian: python3-torch, with /usr/bin/python3)")
class TorchTraining(util.ScratchDirTest):
    def test_two_epochs_with_a_task_each_are_in_the_ledger(self):
        model, x, y, optimizer = make_problem()
        losses = []
        with joule.Tracker("torch two epochs", interval=0.05, country="FRA") as tracker:
            for epoch in (1, 2):
                tracker.start_task("epoch-%d" % epoch)
                losses.append(train_epoch(model, x, y, optimizer))
                tracker.stop_task("epoch-%d" % epoch)
        report = tracker.report
        self.assertLess(losses[1], losses[0])  # it trained
        self.assertEqual([t.name for t in report.tasks], ["epoch-1", "epoch-2"])
        self.assertTrue(util.is_method_label(report.methods["cpu"]), report.methods)

        run = util.run_json(tracker.run_id)
        self.assertEqual(run["status"], "completed")
        self.assertEqual(run["kind"], "python")
        self.assertEqual(run["name"], "torch two epochs")
        self.assertTrue(util.is_method_label(run["energy"]["method"]), run["energy"])
        self.assertAlmostEqual(run["energy"]["energy_j"], report.energy_j, delta=1e-9 + 1e-9 * report.energy_j)
        tasks = run["metrics"]["tasks"]
        self.assertEqual([t["name"] for t in tasks], ["epoch-1", "epoch-2"])
        for stored, seen in zip(tasks, report.tasks):
            self.assertEqual(stored["energy"]["method"], run["energy"]["method"])
            self.assertEqual(stored["energy"]["estimated"], seen.estimated)
            self.assertAlmostEqual(stored["energy"]["energy_j"], seen.energy_j, delta=1e-9 + 1e-9 * seen.energy_j)
            self.assertGreater(stored["energy"]["duration_s"], 0)
            self.assertGreater(stored["energy"]["samples"], 0)  # sampled at both ends
        self.assertLessEqual(sum(t["energy"]["energy_j"] for t in tasks), run["energy"]["energy_j"] * (1 + 1e-9))
        binary = os.environ.get("JOULE_BINARY")
        if binary and os.path.exists(binary):  # the command's own view lists the tasks
            text = subprocess.run(
                [binary, "runs", "show", "--ledger", util.ledger_path(), tracker.run_id],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            self.assertIn("tasks, in the order they ended:", text)
            self.assertRegex(text, r"epoch-2 +[0-9.]+ s +\S+ J .*" + run["energy"]["method"])
            print(text)
        print("run %s: %s" % (tracker.run_id, report))
        for t in report.tasks:
            print("  %s" % t)

    def test_training_tracker_logs_each_epoch_and_stores_epoch_rows(self):
        from joule.torch import TrainingTracker

        model, x, y, optimizer = make_problem()
        lines = []
        with TrainingTracker("helper", log_fn=lines.append, interval=0.05) as tt:
            for epoch in tt.epochs(2):
                batches = [(x[i : i + 64], y[i : i + 64]) for i in range(0, len(x), 64)]
                for xb, yb in tt.steps(batches):
                    optimizer.zero_grad()
                    loss = nn.functional.mse_loss(model(xb), yb)
                    loss.backward()
                    optimizer.step()
                tt.log(loss=float(loss))
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[0].startswith("epoch 1: "), lines[0])
        self.assertIn(tt.logs[0]["method"], lines[0])
        self.assertEqual([e["steps"] for e in tt.logs], [256, 256])
        run = util.run_json(tt.tracker.run_id)
        self.assertEqual(run["kind"], "python.train")
        self.assertEqual([e["epoch"] for e in run["epochs"]], [1, 2])
        self.assertEqual(run["epochs"][1]["metrics"]["steps"], 256)
        self.assertAlmostEqual(run["epochs"][0]["energy_j"], tt.logs[0]["energy_j"], delta=1e-9)
        self.assertEqual([t["name"] for t in run["metrics"]["tasks"]], ["epoch-1", "epoch-2"])

    def test_an_exception_in_an_epoch_ends_the_task_and_fails_the_run(self):
        from joule.torch import TrainingTracker

        tt = TrainingTracker("broken", log_fn=None, interval=0.05)
        with self.assertRaises(ValueError):
            with tt:
                for epoch in tt.epochs(3):
                    if epoch == 2:
                        raise ValueError("bad batch")
        run = util.run_json(tt.tracker.run_id)
        self.assertEqual(run["status"], "failed")
        self.assertIn("bad batch", run["message"])
        self.assertEqual([e["epoch"] for e in run["epochs"]], [1])
        self.assertEqual([t["name"] for t in run["metrics"]["tasks"]], ["epoch-1", "epoch-2"])


if __name__ == "__main__":
    unittest.main()
