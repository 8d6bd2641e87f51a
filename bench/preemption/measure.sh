#!/bin/sh
# Measures the candidates for naming a point in time without a PMU, side by side, on
# this machine (docs/preemption.md has a dated run): fingerprint ambiguity (fpstep),
# the software counter's slowdown and patching cost (softcount-*), and the chosen
# naming's record and replay costs (sigpoint). Usage: sh measure.sh [STEPS]
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$here/out
steps=${1:-100000}
sh "$here/build.sh" "$out" >/dev/null
data=$out/data.bin
[ -f "$data" ] || head -c 12000000 /usr/bin/gdb > "$data" 2>/dev/null || head -c 12000000 /dev/urandom > "$data"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

echo "## 1-2. fingerprints: repeats and ambiguities in $steps single-steps"
for m in atomic spin memcpy strlen; do "$out/fpstep" -a 13 -n "$steps" -- "$out/loops" $m; done
"$out/fpstep" -w 300 -n "$steps" -- /usr/bin/python3 -c 'i=0
while True: i+=1'
"$out/fpstep" -o "$out/gzip.json" -w 200 -n "$steps" -- gzip -c "$data" >/dev/null; cat "$out/gzip.json"; rm -f "$out/gzip.json"
"$out/fpstep" -w 30 -n "$steps" -- sha256sum "$data"

echo "## 3. software counter: native vs patched (ms, best of 3), planning cost"
node "$here/softcount-plan.mjs" "$out/softcount_target" 10000000 "$out/sc.plan" cpuloop bytecopy isort
for w in "cpuloop 100000000" "bytecopy 2000" "isort 20"; do
  for plan in "" "$out/sc.plan"; do
    best=""
    for i in 1 2 3; do
      ms=$(SOFTCOUNT_PLAN=$plan "$out/softcount_target" $w | sed 's/.*"ms":\([0-9.]*\).*/\1/')
      [ -z "$best" ] || [ "$(echo "$ms < $best" | bc)" = 1 ] && best=$ms
    done
    echo "{\"work\":\"$w\",\"patched\":$([ -n "$plan" ] && echo true || echo false),\"best_ms\":$best}"
  done
done
libc=$(ldd /bin/true | awk '/libc.so/{print $3}')
node "$here/softcount-plan.mjs" "$libc" 10000000 "$out/libc.plan" '*'
node "$here/softcount-plan.mjs" /usr/bin/python3.11 10000000 "$out/py.plan" '*' 2>/dev/null || true

echo "## 4-5. state naming (sigpoint): record and replay of a SIGALRM in the count++ loop"
for m in alarm alarmspin alarmcopy; do
  "$out/sigpoint" record "$out/$m.name" -- "$out/loops" $m 20000 2>&1 | grep sigpoint
  "$out/sigpoint" replay "$out/$m.name" -- "$out/loops" $m 20000 2>&1 | grep sigpoint
done
echo "## the exact-state hash at record: python3 with 0 and 200 MB of heap"
for mb in 0 200; do
  "$out/sigpoint" record "$out/py.name" -- /usr/bin/python3 -c "
import signal
b = bytearray($mb << 20)
stop = False
def h(s, f):
    global stop
    stop = True
signal.signal(signal.SIGALRM, h)
signal.setitimer(signal.ITIMER_REAL, 0.05)
i = 0
while not stop: i += 1
print(i)" 2>&1 | grep sigpoint
done
