#!/bin/sh
# Install the Debian 12 packages the competitor benchmarks (bench/compare.sh)
# build with: Go, tokio from the Debian crate registry (built offline with
# cargo), libuv.  Not needed for building or testing tasktrace itself (CI
# uses scripts/install-deps.sh).  Needs root (or sudo).
set -eu
PKGS="golang-go librust-tokio-dev cargo libuv1-dev pkg-config"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
