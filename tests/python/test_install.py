"""The two ways the package is installed: pip without a network (a venv
that sees Debian's packages, as docs/python.md says) and `cmake --install`
(the library and the package, which finds the library without help)."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import joule_test_util as util

SOURCE = os.path.join(util.HERE, "..", "..", "python")
CHECK = (
    "import joule, joule.codecarbon, joule.torch\n"
    "t = joule.Tracker(ledger=False, interval=0.05)\n"
    "t.start(); r = t.stop()\n"
    "print(joule.__file__); print(joule.library_path()); print(r.method)\n"
)


class Install(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="joule-install-test-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def test_pip_installs_offline_in_a_venv(self):
        venv = os.path.join(self.tmp, "venv")
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
        # A copy, so that pip's in-tree build leaves nothing in the source tree.
        source = os.path.join(self.tmp, "python")
        shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        python = os.path.join(venv, "bin", "python")
        out = subprocess.run(
            [python, "-m", "pip", "install", "--no-index", "--no-cache-dir", source],
            capture_output=True,
            text=True,
        )
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        run = subprocess.run([python, "-c", CHECK], capture_output=True, text=True, env=env, cwd=self.tmp)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertTrue(run.stdout.splitlines()[0].startswith(venv), run.stdout)

    def test_cmake_install_puts_a_package_that_finds_its_library(self):
        build = os.environ.get("JOULE_BUILD_DIR")
        if not build:
            self.skipTest("JOULE_BUILD_DIR is not set (run through ctest -L python)")
        prefix = os.path.join(self.tmp, "prefix")
        out = subprocess.run(
            ["cmake", "--install", build, "--prefix", prefix, "--component", "python"],
            capture_output=True,
            text=True,
        )
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        version = "%d.%d" % sys.version_info[:2]
        site = os.path.join(prefix, "lib", "python%s" % version, "dist-packages")
        self.assertTrue(os.path.exists(os.path.join(site, "joule", "_install.py")), os.listdir(prefix))
        env = dict(os.environ, PYTHONPATH=site, JOULE_DATA_DIR="")
        env.pop("JOULE_LIBRARY", None)  # it must find the installed one by itself
        env.pop("JOULE_DATA_DIR")  # and the installed tables
        run = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, env=env, cwd=self.tmp)
        self.assertEqual(run.returncode, 0, run.stderr)
        lines = run.stdout.splitlines()
        self.assertTrue(lines[0].startswith(site), lines)
        self.assertTrue(lines[1].startswith(prefix), lines)


if __name__ == "__main__":
    unittest.main()
