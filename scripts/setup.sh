#!/usr/bin/env bash
# Installs what cortexbench needs on a fresh Debian machine (run as root, or
# with sudo available). Idempotent: what is already there is skipped.
#
#   scripts/setup.sh          what running cortexbench needs (make run)
#   scripts/setup.sh --test   also what the tests need (make test, CI):
#                             PostgreSQL, versitygw, Chromium, the AWS CLI
set -euo pipefail
with_tests=false
if [ "${1:-}" = "--test" ]; then with_tests=true; fi
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Debian packages: OpenBLAS and LAPACKE for the linear algebra.
pkgs=(libopenblas-dev liblapacke-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# --- models/ --------------------------------------------------------------
# ONNX Runtime 1.30.0 (models/): the linux-x64 CPU library from the npm package
# onnxruntime-node@1.30.0. `npm pack` only downloads the tarball (a plain
# `npm install` runs scripts that fail offline); the library inside is
# package/bin/napi-v6/linux/x64/libonnxruntime.so.1, checked against a pinned
# sha256 and installed as third_party/onnxruntime/libonnxruntime.so.1.30.0.
ort_dir=third_party/onnxruntime
ort_lib="$ort_dir/libonnxruntime.so.1.30.0"
ort_sha=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
if ! { [ -f "$ort_lib" ] && echo "$ort_sha  $ort_lib" | sha256sum -c --quiet - >/dev/null 2>&1; }; then
  if [ "$(uname -m)" != x86_64 ]; then
    echo "setup: ONNX Runtime: only linux-x64 is set up by this script" >&2
    exit 1
  fi
  command -v npm >/dev/null || {
    echo "setup: installing npm"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
  }
  echo "setup: fetching onnxruntime-node@1.30.0 for libonnxruntime.so.1.30.0"
  ort_tmp="$(mktemp -d)"
  trap 'rm -rf "$ort_tmp"' EXIT
  (cd "$ort_tmp" && npm pack --silent onnxruntime-node@1.30.0 >/dev/null)
  tar -xzf "$ort_tmp"/onnxruntime-node-1.30.0.tgz -C "$ort_tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  if ! echo "$ort_sha  $ort_tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum -c --quiet - >/dev/null; then
    echo "setup: libonnxruntime.so.1 from onnxruntime-node@1.30.0 does not match the pinned sha256 $ort_sha" >&2
    exit 1
  fi
  mkdir -p "$ort_dir"
  install -m 0644 "$ort_tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ort_lib"
  rm -rf "$ort_tmp"
  trap - EXIT
fi
# --- end models/ ----------------------------------------------------------
if ! $with_tests; then
  echo "setup: done"
  exit 0
fi
# --- storage/ -------------------------------------------------------------
# PostgreSQL (Debian's, 15 on bookworm) for the registry tests: .ci/run starts
# a throwaway cluster from its binaries. Nothing is started here.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "setup: installing postgresql"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
# versitygw v1.8.0, a real S3 server (it checks request signatures) that the
# object-store conformance suite runs against. Built from source into
# third_party/bin (several minutes on 2 cores, once); skipped when the binary
# there already reports that module version.
vgw_version=v1.8.0
vgw_bin=third_party/bin/versitygw
go_cmd="$(command -v go || echo /usr/local/go/bin/go)"
if ! { [ -x "$vgw_bin" ] && "$go_cmd" version -m "$vgw_bin" 2>/dev/null |
    grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/versity/versitygw[[:space:]]+$vgw_version([[:space:]]|\$)"; }; then
  echo "setup: building versitygw $vgw_version into $vgw_bin (takes a few minutes)"
  mkdir -p third_party/bin
  GOBIN="$PWD/third_party/bin" GOFLAGS=-buildvcs=false "$go_cmd" install "github.com/versity/versitygw/cmd/versitygw@$vgw_version"
fi
# --- end storage/ ---------------------------------------------------------
# --- leaderboard/ ---------------------------------------------------------
# Chromium (Debian's package, /usr/bin/chromium) for the web page's browser
# test in leaderboard/httpapi, driven headless by chromedp; the test skips
# only when the binary is absent.
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing chromium"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# --- end leaderboard/ -----------------------------------------------------
# The AWS CLI: the tests read the published leaderboard snapshot back with
# it, as any S3 client would.
if ! command -v aws >/dev/null 2>&1; then
  echo "setup: installing awscli"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq awscli >/dev/null
fi
echo "setup: done"
