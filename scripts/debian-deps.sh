#!/usr/bin/env bash
# Install the Debian packages Shuyu needs, when running as root and they are missing.
set -euo pipefail
# openjdk-17-jre-headless: the JVM of pyspark (jobs with engine="spark").
# libgomp1: the OpenMP runtime LightGBM's wheel links from the system (pyproject's science extra).
# etcd-server, golang-1.19-go, dpkg-dev: the Kubernetes control plane of the cluster e2e suite
# (etcd runs as is; scripts/kubernetes-build.sh builds the rest from Debian's source package).
PACKAGES=(python3 python3-venv python3-dev nodejs npm git build-essential bubblewrap nftables iproute2 util-linux mount e2fsprogs docker.io libseccomp2 chromium libgomp1 etcd-server golang-1.19-go dpkg-dev openjdk-17-jre-headless)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A Python 3.11+ and node already on PATH (pyenv, nvm, …) satisfy those packages.
if command -v python3 >/dev/null && python3 -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  missing=("${missing[@]/python3}"); missing=("${missing[@]/python3-venv}"); missing=("${missing[@]/python3-dev}")
fi
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
command -v cc >/dev/null && command -v make >/dev/null && missing=("${missing[@]/build-essential}")
command -v git >/dev/null && missing=("${missing[@]/git}")
read -r -a missing <<<"${missing[*]}"
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "Shuyu needs these Debian packages: ${missing[*]} (run as root, or install them yourself)" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
