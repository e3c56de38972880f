#!/bin/sh
# Regenerates onnx.pb.go from the onnx.proto that Debian's libonnx-dev ships
# (ONNX 1.12.0), with Debian's protoc (protobuf-compiler 3.21.12) and
# Debian's APIv2 protoc-gen-go (package protoc-gen-go 1.28.1). That package
# conflicts with the older protoc-gen-go-1-3, so it is unpacked into a
# temporary directory instead of installed. Run from this directory
# (`go generate ./models/onnxpb` does).
set -eu
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q protoc-gen-go=1.28.1-3+b2 >/dev/null 2>&1 && dpkg-deb -x protoc-gen-go_*.deb root)
protoc -I/usr/include/onnx \
  --plugin=protoc-gen-go="$tmp/root/usr/bin/protoc-gen-go" \
  --go_out=. --go_opt=paths=source_relative \
  --go_opt=Monnx.proto=github.com/cortexbench/cortexbench/models/onnxpb \
  onnx.proto
