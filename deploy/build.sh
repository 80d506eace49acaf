#!/usr/bin/env bash
# Build the node's runtime install: a virtual environment at PREFIX holding the locked runtime
# dependencies and the avrr-gateway wheel, nothing else (no test or lint tools, no pip).
#
#   deploy/build.sh PREFIX [--extra hsm]
#
# This one script is the whole install, wherever it runs: on a VM (deploy/README.md), in the
# container image's builder stage (Dockerfile), and on CI (`make deploy-check`). Two runs from
# the same commit install the same versions, checked against the hashes in requirements/*.lock
# (`make lock` writes them). PREFIX must not exist yet, or be empty: an upgrade is a new prefix,
# so the running one is never half replaced.
#
# Needs Python 3.11 (the version the locks are compiled for) with venv, and PyPI or a mirror of
# it (PIP_INDEX_URL). Set PYTHON to choose the interpreter.
set -euo pipefail

usage() { echo "usage: $0 PREFIX [--extra hsm]" >&2; exit 2; }

[ $# -ge 1 ] || usage
prefix=$1
shift
lock=runtime
while [ $# -gt 0 ]; do
  case $1 in
    --extra) [ $# -ge 2 ] || usage; lock=$2; shift 2 ;;
    *) usage ;;
  esac
done

source_dir=$(cd "$(dirname "$0")/.." && pwd)
lock_file=$source_dir/requirements/$lock.lock
[ -f "$lock_file" ] || { echo "build: no lock file requirements/$lock.lock" >&2; exit 2; }

python=${PYTHON:-$(command -v python3.11 || command -v python3)}
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "build: $python is not Python 3.11, the version requirements/*.lock are compiled for" >&2
  exit 2
fi

if [ -e "$prefix" ] && [ -n "$(ls -A "$prefix")" ]; then
  echo "build: $prefix is not empty; install each version into a new prefix" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
quiet=(--quiet --disable-pip-version-check --no-input)

# The wheel is built from a copy of the sources, so the checkout gets no build/ or egg-info
# folder, with the locked setuptools and no build isolation (which would fetch the newest).
echo "build: wheel"
mkdir "$work/src"
tar -C "$source_dir" --exclude=__pycache__ --exclude='*.pyc' -cf - \
  pyproject.toml README.md schemas crypto consent partners gateway | tar -C "$work/src" -xf -
"$python" -m venv "$work/build-env"
"$work/build-env/bin/python" -m pip install "${quiet[@]}" --require-hashes --no-deps \
  -r "$source_dir/requirements/build.lock"
"$work/build-env/bin/python" -m pip wheel "${quiet[@]}" --no-deps --no-build-isolation \
  --wheel-dir "$work/dist" "$work/src"
wheel=$(ls "$work/dist"/avrr_gateway-*.whl)

echo "build: runtime environment at $prefix from requirements/$lock.lock"
"$python" -m venv "$prefix"
"$prefix/bin/python" -m pip install "${quiet[@]}" --require-hashes --no-deps -r "$lock_file"
"$prefix/bin/python" -m pip install "${quiet[@]}" --no-deps "$wheel"
"$prefix/bin/python" -m pip check >/dev/null || {
  "$prefix/bin/python" -m pip check >&2 || true
  echo "build: requirements/$lock.lock lacks a dependency of pyproject.toml; run make lock" >&2
  exit 1
}
# What is installed, for the operator's records and a vulnerability scanner.
"$prefix/bin/python" -m pip freeze --all --exclude pip --exclude setuptools |
  sed 's|@ file://.*/\(avrr_gateway-[^#]*\)#|@ \1#|' > "$prefix/installed.txt"
# Nothing installs into a runtime, so the installers that venv adds go (a new version is a new
# prefix); Python 3.11's venv also brings an old setuptools that no lock pins.
"$prefix/bin/python" -m pip uninstall "${quiet[@]}" --yes pip setuptools
install -m 0755 "$source_dir/deploy/container/entrypoint.sh" "$prefix/bin/avrr-entrypoint"

# Bytecode now, because the container's root file system is read-only and the VM's install
# folder is not writable by the node's user.
"$prefix/bin/python" -m compileall -q -j 0 "$prefix/lib" >/dev/null

echo "build: smoke check"
"$prefix/bin/avrr" --version
"$prefix/bin/python" -c 'import gateway.surfaces.app'
if [ "$lock" = hsm ]; then
  "$prefix/bin/python" -c 'import pkcs11'
fi
echo "build: OK ($prefix)"
