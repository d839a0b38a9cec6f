#!/bin/sh
# run_fuzz.sh FUZZER SEEDS WORKDIR SECONDS: run FUZZER for SECONDS over the
# checked-in SEEDS (read only) and a scratch corpus in WORKDIR; a crash,
# a leak, a timeout (a hang) or an out-of-memory fails the test, its input
# left in WORKDIR/crash-* (timeout-*, oom-*, leak-*) to reproduce with
# `FUZZER FILE`.  libFuzzer's own exit codes for those (77 for a crash)
# would read as a skip to meson: every failure exits 1.
set -eu
fuzzer=$1 seeds=$2 work=$3 secs=$4
mkdir -p "$work/scratch"
exec "$fuzzer" "$work/scratch" "$seeds" -max_total_time="$secs" -timeout=10 \
	-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	-error_exitcode=1 -timeout_exitcode=1 \
	-artifact_prefix="$work/"
