#!/bin/sh
# kill_train.sh - crash safety of `sim --train` checkpoints (make crash-test;
# docs/reliability.md).
#
#   tests/crash/kill_train.sh [SIM] [TRIALS]
#
# 1. SIGKILL at random moments (TRIALS, default 20): afterwards the
#    checkpoint is either absent (killed before the first one) or complete:
#    `--resume` loads it (validate-then-commit: format, config, every tensor,
#    optimizer state) and finishes the run with weights bit-identical to an
#    uninterrupted reference run (one thread, float build). Temporaries of
#    the killed writer (ck.h5.tmp.<pid>) are counted and must be gone after
#    the resume (the trainer removes those of dead processes at start).
# 2. SIGTERM and SIGINT at random moments (5 each): the trainer finishes the
#    step, writes a checkpoint, exits with 128+signal and a one-line message;
#    resuming finishes bit-identically.
# 3. A full disk: with a file-size limit (ulimit -f) below the checkpoint's
#    size, and on a tiny tmpfs when one can be mounted, the write fails with
#    a one-line error, a non-zero exit, and the previous checkpoint is intact.
set -u
SIM=${1:-bin/sim}
TRIALS=${2:-20}
case $SIM in /*) ;; *) SIM=$PWD/$SIM ;; esac
W=$(mktemp -d /tmp/kill_train.XXXXXX)
trap 'umount "$W/tiny" 2>/dev/null; rm -rf "$W"' EXIT
ARGS="--preset fmnist --channels 4,8,8,8 --T 2 --train-limit 640 --test-limit 200 --epochs 3
      --ckpt-every 2 --threads 1 --quiet"
export OMP_WAIT_POLICY=passive SIM_NO_REEXEC=1
fail=0
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# the uninterrupted reference, and how long a run takes
t0=$(date +%s%N)
$SIM --train $ARGS --out "$W/ref.h5" > "$W/ref.out" 2>&1 || { cat "$W/ref.out"; exit 1; }
t1=$(date +%s%N)
RUN_MS=$(( (t1 - t0) / 1000000 ))
echo "reference run: $RUN_MS ms, $(ls -l "$W/ref.h5" | awk '{print $5}') byte checkpoint"

same_as_ref() { # the final weights, optimizer moments and progress equal the reference's
    h5diff -q "$W/ref.h5" "$1" /params /params > /dev/null 2>&1 &&
    h5diff -q "$W/ref.h5" "$1" /optim /optim > /dev/null 2>&1 &&
    h5diff -q "$W/ref.h5" "$1" /state/step /state/step > /dev/null 2>&1
}

# finish a run from whatever the interrupted one left in $W/ck.h5
finish() {
    if [ -f "$W/ck.h5" ]; then
        h5dump -a /format "$W/ck.h5" 2>/dev/null | grep -q trevsnn-checkpoint ||
            { bad "$1: ck.h5 is not a complete checkpoint"; return; }
        $SIM --train $ARGS --out "$W/ck.h5" --resume "$W/ck.h5" > "$W/resume.out" 2>&1 ||
            { bad "$1: resume failed: $(cat "$W/resume.out")"; return; }
    else
        nockpt=$((nockpt + 1))
        $SIM --train $ARGS --out "$W/ck.h5" > "$W/resume.out" 2>&1 ||
            { bad "$1: fresh run failed: $(cat "$W/resume.out")"; return; }
    fi
    # (a run killed after its last checkpoint resumes with nothing left to do)
    grep -q -e "trained [0-3] epochs (30 steps)" -e "already finished all 3 epochs (30 steps)" \
        "$W/resume.out" || bad "$1: $(cat "$W/resume.out")"
    same_as_ref "$W/ck.h5" || bad "$1: final checkpoint differs from the reference"
    left=$(ls "$W" | grep -c '\.tmp\.')
    [ "$left" -eq 0 ] || bad "$1: $left temporary files left after the resume"
}

# 1. SIGKILL
nockpt=0 stale=0 passed=0
i=1
while [ "$i" -le "$TRIALS" ]; do
    rm -f "$W"/ck.h5*
    ms=$(awk -v s="$i$$" -v r="$RUN_MS" 'BEGIN { srand(s); printf "%d", 150 + rand() * r }')
    $SIM --train $ARGS --out "$W/ck.h5" > /dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    t=$(ls "$W" | grep -c '^ck\.h5\.tmp\.')
    stale=$((stale + t))
    f0=$fail
    finish "SIGKILL trial $i at $ms ms"
    [ "$fail" -eq "$f0" ] && passed=$((passed + 1))
    i=$((i + 1))
done
echo "SIGKILL: $passed/$TRIALS trials passed ($nockpt killed before the first checkpoint," \
     "$stale stale temporaries found and removed by the resume)"

# 2. SIGTERM / SIGINT
sigpass=0 sigtotal=0
for sig in TERM INT; do
    for k in 1 2 3 4 5; do
        rm -f "$W"/ck.h5*
        ms=$(awk -v s="$k$$${#sig}" -v r="$RUN_MS" 'BEGIN { srand(s); printf "%d", 300 + rand() * (r - 600) }')
        $SIM --train $ARGS --out "$W/ck.h5" > "$W/sig.out" 2> "$W/sig.err" &
        pid=$!
        sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
        kill -s "$sig" "$pid" 2>/dev/null
        wait "$pid"
        rc=$?
        sigtotal=$((sigtotal + 1))
        f0=$fail
        want=143
        [ "$sig" = INT ] && want=130
        if [ "$rc" -eq 0 ]; then
            : # finished before the signal arrived
        elif [ "$rc" -ne "$want" ]; then
            bad "SIG$sig at $ms ms: exit $rc, expected $want: $(cat "$W/sig.err")"
        elif ! grep -q "stopped by SIG$sig after step .*resume with --resume" "$W/sig.err" ||
             [ "$(wc -l < "$W/sig.err")" -ne 1 ]; then
            bad "SIG$sig: expected one line 'stopped by SIG$sig ...', found: $(cat "$W/sig.err")"
        fi
        finish "SIG$sig at $ms ms"
        [ "$fail" -eq "$f0" ] && sigpass=$((sigpass + 1))
    done
done
echo "SIGTERM/SIGINT: $sigpass/$sigtotal trials passed (checkpoint, exit 128+sig, resume identical)"

# 3. full disk: a valid checkpoint from step 4, then a run that cannot write
rm -f "$W"/ck.h5*
$SIM --train $ARGS --out "$W/ck.h5" --max-steps 4 > /dev/null 2>&1 || bad "max-steps run failed"
cp "$W/ck.h5" "$W/good.h5"
size_kb=$(( $(stat -c %s "$W/ck.h5") / 1024 ))
( ulimit -f $((size_kb / 2)); exec $SIM --train $ARGS --out "$W/ck.h5" --resume "$W/ck.h5" ) \
    > /dev/null 2> "$W/full.err"
rc=$?
if [ "$rc" -eq 0 ] || [ "$(wc -l < "$W/full.err")" -ne 1 ] || ! grep -q "ck.h5" "$W/full.err"; then
    bad "ulimit -f: exit $rc, stderr: $(cat "$W/full.err")"
elif ! cmp -s "$W/ck.h5" "$W/good.h5"; then
    bad "ulimit -f: the previous checkpoint changed"
else
    echo "full disk (ulimit -f $((size_kb / 2)) KB): exit $rc, '$(cat "$W/full.err")'; previous checkpoint intact"
fi
[ "$(ls "$W" | grep -c '\.tmp\.')" -eq 0 ] || bad "ulimit -f: temporary left behind"
mkdir -p "$W/tiny"
if mount -t tmpfs -o size=$((size_kb * 3 / 2))k tmpfs "$W/tiny" 2>/dev/null; then
    cp "$W/good.h5" "$W/tiny/ck.h5"
    $SIM --train $ARGS --out "$W/tiny/ck.h5" --resume "$W/tiny/ck.h5" > /dev/null 2> "$W/full.err"
    rc=$?
    if [ "$rc" -eq 0 ] || [ "$(wc -l < "$W/full.err")" -ne 1 ]; then
        bad "tmpfs: exit $rc, stderr: $(cat "$W/full.err")"
    elif ! cmp -s "$W/tiny/ck.h5" "$W/good.h5"; then
        bad "tmpfs: the previous checkpoint changed"
    else
        echo "full disk (tmpfs of $((size_kb * 3 / 2)) KB): exit $rc, '$(cat "$W/full.err")'; previous checkpoint intact"
    fi
    [ "$(ls "$W/tiny" | grep -c '\.tmp\.')" -eq 0 ] || bad "tmpfs: temporary left behind"
    umount "$W/tiny"
else
    echo "full disk on tmpfs: skipped (cannot mount a tmpfs here)"
fi

if [ "$fail" -ne 0 ]; then
    echo "crash-test: $fail failures"
    exit 1
fi
echo "crash-test: all passed"
