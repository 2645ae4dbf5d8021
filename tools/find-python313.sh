#!/usr/bin/env sh
# Prints the path of a Python 3.13 interpreter (the Lambda runtime's version), or explains
# what to install. Looks on PATH first, then in pyenv's versions.
set -u

is_313() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; }

for candidate in python3.13 python3 python; do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if is_313 "$path"; then
    # The base interpreter, not a venv's or a pyenv shim's.
    "$path" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))'
    exit 0
  fi
done

if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for path in $(ls -d "$root"/versions/3.13*/bin/python3.13 2>/dev/null | sort -V -r); do
    if is_313 "$path"; then
      echo "$path"
      exit 0
    fi
  done
fi

echo "Python 3.13 (the Lambda runtime's version) was not found on PATH or in pyenv: install it (e.g. 'pyenv install 3.13' or your OS's python3.13 package) and run make again." >&2
exit 1
