#!/bin/sh
# Builds the preemption study's programs into $1 (default: ./out). Needs gcc and, for
# fpstep, Zydis (Debian: libzydis-dev).
set -e
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out}
mkdir -p "$out"
gcc -O2 -g -fno-omit-frame-pointer -no-pie -fno-pie -o "$out/loops" "$here/loops.c"
gcc -O2 -g -o "$out/sigpoint" "$here/sigpoint.c" -lZydis
gcc -O2 -g -o "$out/fpstep" "$here/fpstep.c" -lZydis
gcc -O2 -g -no-pie -fno-pie -o "$out/softcount_target" "$here/softcount_target.c"
