#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install, build, run `joule demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Only the command (the tests and benchmarks are scripts/test.sh's to build);
# ninja's [n/N] lines are the progress of a first build, which takes minutes.
echo "demo: building build/joule"
scripts/build.sh joule
exec build/joule demo "$@"
