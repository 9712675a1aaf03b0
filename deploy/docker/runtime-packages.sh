#!/usr/bin/env bash
# Prints the packages that hold the shared libraries the given executables load, one a line, sorted, so
# that a runtime image installs exactly what the binaries need. Run it in the build stage, on the same
# distribution as the runtime stage. Libraries under /usr/local/cuda* are left out (a CUDA base image
# brings them). A library that is not found, or that no package owns, is an error (exit 1).
#
#   deploy/docker/runtime-packages.sh build/bin/hpo-worker build/bin/hpo-train > runtime-packages.txt
set -euo pipefail

# The package that owns `path`, trying the path as given, resolved, and with or without /usr (a merged
# /usr lists some files under /lib and others under /usr/lib).
owner() {
  local resolved
  resolved=$(readlink -f "$1")
  for p in "$resolved" "$1"; do
    for q in "$p" "${p#/usr}" "/usr$p"; do
      local line
      line=$(dpkg-query -S "$q" 2>/dev/null | grep -v '^diversion' | head -n 1 || true)
      if [[ -n $line ]]; then
        line=${line%%: /*}   # "pkg:arch, pkg2:arch: /path" -> "pkg:arch, pkg2:arch"
        line=${line%%,*}     # the first package
        echo "${line%%:*}"   # without the architecture
        return 0
      fi
    done
  done
  return 1
}

[[ $# -gt 0 ]] || { echo "usage: $0 EXECUTABLE..." >&2; exit 2; }
status=0
packages=()
for exe in "$@"; do
  if ! ldd "$exe" >/dev/null; then
    echo "runtime-packages: $exe: not a dynamic executable" >&2
    status=1
    continue
  fi
  while read -r name arrow path _; do
    [[ $arrow == "=>" ]] || continue          # the vdso and the loader have no "=>"
    if [[ $path == "not" ]]; then
      echo "runtime-packages: $exe: $name not found" >&2
      status=1
      continue
    fi
    [[ $path == /usr/local/cuda* ]] && continue
    if pkg=$(owner "$path"); then
      packages+=("$pkg")
    else
      echo "runtime-packages: $exe: no package owns $path" >&2
      status=1
    fi
  done < <(ldd "$exe")
done
[[ $status -eq 0 ]] || exit "$status"
printf '%s\n' "${packages[@]}" | sort -u
