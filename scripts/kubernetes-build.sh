#!/usr/bin/env bash
# Build the Kubernetes control plane the end-to-end suite runs against (tests/e2e/test_kubernetes_cluster.py):
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl (which carries `kubectl kustomize`),
# from Debian bookworm's `kubernetes` source package (1.20, vendored), with Debian's golang-1.19-go.
#
# The binaries go into a cache the machine keeps outside the clone, so they are built once per machine:
#   SHUYU_KUBERNETES_BIN (default /var/cache/shuyu/kubernetes-1.20/bin)
# When the cache already holds all four binaries this script does nothing. Where it cannot build
# (no apt-get, Go or dpkg-source, or no way to write the cache) it says so and exits 0: the suite
# is then skipped, with the reason. A build that starts and fails exits non-zero.
# ≈11 min on this project's 2-core machines; ≈290 MB of binaries; ≈1.5 GB of scratch, removed after.
set -euo pipefail

BIN="${SHUYU_KUBERNETES_BIN:-/var/cache/shuyu/kubernetes-1.20/bin}"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

have_all() {
  local b
  for b in "${BINARIES[@]}"; do
    [ -x "$BIN/$b" ] || return 1
  done
}

if have_all; then
  exit 0
fi

cannot() {
  echo "kubernetes-build: cannot build here ($1); tests/e2e/test_kubernetes_cluster.py will be skipped" >&2
  exit 0
}
GO=/usr/lib/go-1.19/bin/go
[ -x "$GO" ] || cannot "$GO missing: scripts/debian-deps.sh installs golang-1.19-go"
command -v dpkg-source >/dev/null || cannot "dpkg-source missing: scripts/debian-deps.sh installs dpkg-dev"
command -v apt-get >/dev/null || cannot "no apt-get"
mkdir -p "$BIN" 2>/dev/null && [ -w "$BIN" ] || cannot "$BIN is not writable"

# `apt-get source` needs a deb-src entry for bookworm.
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  [ "$(id -u)" -eq 0 ] || cannot "no deb-src entry for apt, and not root to add one"
  cat >/etc/apt/sources.list.d/shuyu-debian-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt-get update -q || cannot "apt-get update failed (no Debian mirror reachable?)"
fi

WORK="$(dirname "$BIN")/build"
rm -rf "$WORK"
mkdir -p "$WORK/download" "$WORK/gopath/src/k8s.io" "$BIN"
(cd "$WORK/download" && apt-get source --download-only kubernetes) ||
  cannot "apt-get source kubernetes failed (no Debian mirror reachable?)"
dsc="$(ls "$WORK"/download/kubernetes_*.dsc | head -n1)"
SRC="$WORK/gopath/src/k8s.io/kubernetes"
dpkg-source -x "$dsc" "$SRC"
version="$(sed -n 's/^Version: \(.*\)/\1/p' "$dsc")"
# 1.20.5+really1.20.2-1.1+deb12u1 -> v1.20.2
upstream="v${version#*really}"
upstream="${upstream%%-*}"

export GOPATH="$WORK/gopath"
export GOCACHE="$WORK/go-build"
export GO111MODULE=off
export CGO_ENABLED=0
export GOFLAGS=
cd "$SRC"

# The one generated source the tarball lacks: the OpenAPI definitions of the built-in API groups
# (the Makefile's gen_openapi, KUBE target), made by the vendored openapi-gen.
"$GO" build -o "$WORK/openapi-gen" k8s.io/kubernetes/vendor/k8s.io/kube-openapi/cmd/openapi-gen
dirs="$(
  grep -rl --include='*.go' '+k8s:openapi-gen=' pkg cmd staging/src/k8s.io |
    grep -v -e '^staging/src/k8s.io/code-generator/' -e '^staging/src/k8s.io/sample-apiserver/' |
    xargs -n1 dirname | sort -u |
    sed -e 's#^staging/src/#k8s.io/kubernetes/vendor/#' -e 't' -e 's#^#k8s.io/kubernetes/#' |
    paste -sd, -
)"
"$WORK/openapi-gen" --logtostderr \
  -i "$dirs" \
  -p k8s.io/kubernetes/pkg/generated/openapi \
  -O zz_generated.openapi \
  -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
  -r "$WORK/openapi-violations.report"

pkg=k8s.io/kubernetes/vendor/k8s.io
ldflags="-s -w"
for v in client-go/pkg/version component-base/version; do
  ldflags+=" -X $pkg/$v.gitVersion=$upstream -X $pkg/$v.gitMajor=1 -X $pkg/$v.gitMinor=20"
  ldflags+=" -X $pkg/$v.gitTreeState=clean -X $pkg/$v.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
done
out="$WORK/out"
mkdir -p "$out"
"$GO" build -tags selinux,notest -ldflags "$ldflags" -o "$out/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl
for b in "${BINARIES[@]}"; do
  install -m 0755 "$out/$b" "$BIN/$b"
done
"$BIN/kube-apiserver" --version
# The sources and the Go build cache (≈1.5 GB) are not needed once the binaries are in place.
cd /
rm -rf "$WORK"
