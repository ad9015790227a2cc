#!/usr/bin/env bash
# Installs the Debian 12 packages reftx needs to build, test and run (as root; uses sudo if
# available otherwise). Extra arguments are more packages (.ci/run adds clang-format for its
# format check). Does nothing when they are all present already.
set -euo pipefail
packages=(g++ meson ninja-build pkg-config git liblmdb-dev libgit2-dev zlib1g-dev
          libboost-program-options-dev doctest-dev e2fsprogs util-linux)
packages+=("$@")
if dpkg -s "${packages[@]}" >/dev/null 2>&1; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${packages[@]}"
