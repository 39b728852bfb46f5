#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install, build, run `joule demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh >/dev/null
exec build/joule demo "$@"
