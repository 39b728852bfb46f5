"""Shared by the Python tests: the package under test and reading a run back.

CTest (tests/CMakeLists.txt) sets JOULE_LIBRARY to the built libjoule.so,
JOULE_HOME to a scratch directory (so the default ledger is a fresh one),
JOULE_BINARY to the built joule command and PYTHONPATH to python/.
"""

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import joule  # noqa: E402


def ledger_path():
    home = os.environ.get("JOULE_HOME")
    if not home:
        raise unittest.SkipTest("JOULE_HOME is not set (run through ctest -L python)")
    return os.path.join(home, "ledger.db")


def run_json(run_id, ledger=None):
    """The run as `joule runs show --json ID` prints it; read from the
    ledger's tables when the joule command is not built."""
    ledger = ledger or ledger_path()
    binary = os.environ.get("JOULE_BINARY")
    if binary and os.path.exists(binary):
        out = subprocess.run(
            [binary, "runs", "show", "--json", "--ledger", ledger, run_id],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out)
    db = sqlite3.connect(ledger)
    try:
        row = db.execute(
            "SELECT id, kind, name, status, message, config, energy, metrics FROM runs WHERE id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise AssertionError("run %s is not in %s" % (run_id, ledger))
        epochs = [
            {"epoch": e, "seconds": s, "energy_j": j, "co2_g": g, "metrics": json.loads(m)}
            for e, s, j, g, m in db.execute(
                "SELECT epoch, seconds, energy_j, co2_g, metrics FROM epochs WHERE run_id = ? ORDER BY epoch",
                (run_id,),
            )
        ]
    finally:
        db.close()
    keys = ("id", "kind", "name", "status", "message")
    record = dict(zip(keys, row[:5]))
    record["config"] = json.loads(row[5])
    record["energy"] = json.loads(row[6])
    record["metrics"] = json.loads(row[7])
    record["epochs"] = epochs
    return record


class ScratchDirTest(unittest.TestCase):
    """Each test in its own working directory (CodeCarbon writes to ".")."""

    def setUp(self):
        self._old_cwd = os.getcwd()
        self._scratch = tempfile.TemporaryDirectory(prefix="joule-python-test-")
        os.chdir(self._scratch.name)
        self.dir = self._scratch.name

    def tearDown(self):
        os.chdir(self._old_cwd)
        self._scratch.cleanup()


def is_method_label(label):
    return label.startswith("measured:") or label.startswith("estimated:") or label == "declared"
