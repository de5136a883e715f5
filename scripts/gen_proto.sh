#!/usr/bin/env bash
# Generate the Python gRPC stubs for proto/leotest.proto into the given directory.
# The generated grpc module imports its sibling absolutely; rewrite that to a relative import
# so the stubs live inside the leoscope.api package.
set -euo pipefail
out=${1:?usage: gen_proto.sh OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$root/.venv/bin/python}
mkdir -p "$out"
"$py" -m grpc_tools.protoc -I"$root/proto" --python_out="$out" --pyi_out="$out" \
  --grpc_python_out="$out" "$root/proto/leotest.proto"
sed -i 's/^import leotest_pb2 as leotest__pb2$/from . import leotest_pb2 as leotest__pb2/' \
  "$out/leotest_pb2_grpc.py"
