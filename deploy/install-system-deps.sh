#!/bin/sh
# Installs the Debian packages the end-to-end tests use: prometheus (and promtool), systemd
# (systemd-analyze), etcd-server (/usr/bin/etcd, for leader election) and bind9 + bind9-utils
# (named, tsig-keygen: the DNS-sync receiver's tests run a real BIND 9), buildah + mmdebstrap
# (tests/deploy/test_image.py builds the Dockerfile on a Debian base made here, and runs it). As
# root it installs what is missing; otherwise it says what is missing and the tests that need it
# are skipped with that reason.
set -u
missing=""
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
[ -x /usr/bin/etcd ] || missing="$missing etcd-server"
[ -x /usr/sbin/named ] || missing="$missing bind9"
[ -x /usr/sbin/tsig-keygen ] || missing="$missing bind9-utils"
command -v buildah >/dev/null 2>&1 || missing="$missing buildah"
command -v mmdebstrap >/dev/null 2>&1 || missing="$missing mmdebstrap"
# newuidmap/newgidmap: buildah's rootless mode wants them; harmless as root.
command -v newuidmap >/dev/null 2>&1 || missing="$missing uidmap"
missing=$(echo "$missing" | tr ' ' '\n' | sort -u | tr '\n' ' ')
if [ -z "$(echo "$missing" | tr -d ' ')" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "not root: install these Debian packages for the end-to-end tests:$missing"
fi
