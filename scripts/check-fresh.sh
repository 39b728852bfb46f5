#!/usr/bin/env bash
# Proves the README's first command on a bare Debian 12: makes a minimal
# bookworm root with debootstrap, copies a clean `git archive HEAD` into it and
# runs scripts/demo.sh inside it with chroot. Prints one line: passed, or the
# first error line (the whole log is kept and its path printed).
#
#   scripts/check-fresh.sh            the check (root, or sudo)
#   scripts/check-fresh.sh --prepare  only make and cache the base root (the
#                                     download), so that CI can do it while
#                                     the tests build
#   JOULE_FRESH_CACHE=DIR             where the base root's tarball is cached
#                                     (default ~/.cache/joule); later runs skip
#                                     the download
#   JOULE_FRESH_KEEP=1                keep the root afterwards (for debugging)
#
# The mirror is the one this machine's apt already uses, read from
# /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list, so the check
# works wherever apt works and no host name is written here.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [[ $(id -u) -ne 0 ]]; then
  exec sudo --preserve-env=JOULE_FRESH_CACHE,JOULE_FRESH_KEEP "$0" "$@"
fi
command -v debootstrap >/dev/null || { echo "check-fresh: debootstrap missing: run scripts/setup.sh --ci" >&2; exit 2; }

# The first bookworm (not -security, not -updates) mirror apt is configured with.
mirror_uri() {
  local f uri suites
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    # deb822 stanzas: pair each URIs line with the Suites line of its stanza.
    uri=$(awk 'BEGIN{RS=""} /(^|\n)Suites:[^\n]*bookworm( |\n|$)/ {
                 if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { s=substr($0,RSTART,RLENGTH);
                   sub(/URIs:[ \t]*/, "", s); print s; exit } }' "$f")
    if [[ -n "$uri" ]]; then echo "$uri"; return; fi
  done
  if [[ -f /etc/apt/sources.list ]]; then
    uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)
    if [[ -n "$uri" ]]; then echo "$uri"; return; fi
  fi
  return 1
}
mirror=$(mirror_uri) || { echo "check-fresh: no bookworm mirror found in /etc/apt" >&2; exit 2; }

cache_dir=${JOULE_FRESH_CACHE:-${HOME:-/root}/.cache/joule}
base_tar="$cache_dir/bookworm-minbase.tar.gz"
mkdir -p "$cache_dir"
work=$(mktemp -d /var/tmp/joule-fresh.XXXXXX)
root="$work/root"
log="$work/check-fresh.log"
mkdir -p "$root"

cleanup() {
  for m in "$root/proc" "$root/dev/pts" "$root/dev"; do
    mountpoint -q "$m" 2>/dev/null && umount -l "$m" || true
  done
  if [[ "${JOULE_FRESH_KEEP:-0}" != 1 ]]; then
    # Keep the log beside the cache: it is all that is left to read.
    cp -f "$log" "$cache_dir/check-fresh.log" 2>/dev/null || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT

start=$(date +%s)
if [[ "${1:-}" == "--prepare" ]]; then
  if [[ -f "$base_tar" ]]; then
    echo "check-fresh: base root cached ($base_tar)"
  elif debootstrap --variant=minbase bookworm "$root" "$mirror" >"$log" 2>&1; then
    tar -czf "$base_tar.tmp" -C "$root" . && mv -f "$base_tar.tmp" "$base_tar"
    echo "check-fresh: base root made and cached in $(( $(date +%s) - start )) s ($base_tar)"
  else
    echo "check-fresh: FAILED: debootstrap: $(grep -m1 -E '^[EW]:|error' "$log" || tail -n1 "$log")"
    exit 1
  fi
  exit 0
fi
if [[ -f "$base_tar" ]]; then
  tar -xzf "$base_tar" -C "$root"
else
  if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$log" 2>&1; then
    echo "check-fresh: FAILED: debootstrap: $(grep -m1 -E '^[EW]:|error' "$log" || tail -n1 "$log")"
    exit 1
  fi
  # Cached only once complete, written atomically, so a cut-off run never
  # leaves a half tarball for the next one.
  tar -czf "$base_tar.tmp" -C "$root" . && mv -f "$base_tar.tmp" "$base_tar"
fi

# The chroot resolves and fetches exactly as this machine does.
cp -f /etc/resolv.conf "$root/etc/resolv.conf"
rm -f "$root/etc/apt/sources.list"
cp -f /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
[[ -f /etc/apt/sources.list ]] && cp -f /etc/apt/sources.list "$root/etc/apt/sources.list"
cp -f /etc/apt/apt.conf.d/* "$root/etc/apt/apt.conf.d/" 2>/dev/null || true
# Keyrings the copied sources may name (Signed-By).
cp -rf /usr/share/keyrings/. "$root/usr/share/keyrings/" 2>/dev/null || true

mkdir -p "$root/src/joule"
git -C "$repo" archive HEAD | tar -x -C "$root/src/joule"
mount --bind /proc "$root/proc"
mount --bind /dev "$root/dev"

# The README's first command, as a new user runs it: nothing else installed.
if chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 /bin/bash -c 'cd /src/joule && scripts/demo.sh' >>"$log" 2>&1; then
  echo "check-fresh: passed: scripts/demo.sh on a bare Debian 12 root ($(( $(date +%s) - start )) s)"
else
  # The most telling line first: CMake's missing package, then a compiler or
  # apt error, then anything that says it failed.
  first=$(grep -m1 -E 'Could NOT find' "$log" || grep -m1 -E 'error:|^E: |CMake Error' "$log" ||
          grep -m1 -E 'Error|FAILED|not found|No such' "$log" || tail -n1 "$log")
  echo "check-fresh: FAILED: ${first#"${first%%[![:space:]]*}"} (log: $cache_dir/check-fresh.log)"
  exit 1
fi
