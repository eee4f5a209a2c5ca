#!/usr/bin/env bash
# Runs one fuzz target for a while, from its seeds, with the language's dictionary and the
# documented bounds (time per input, memory), then keeps any crash for triage.
#
#   fuzz/run.sh TARGET [SECONDS]        # default 900 (15 minutes)
#
# Needs cargo-fuzz and a nightly toolchain (`cargo +nightly fuzz ...`), or stable with
# RUSTC_BOOTSTRAP=1. Corpora grow in fuzz/corpus/TARGET (not committed).
set -euo pipefail
cd "$(dirname "$0")"
target=$1
seconds=${2:-900}
mkdir -p "corpus/$target" artifacts
if [ -d "seeds/$target" ]; then cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true; fi
toolchain=()
if cargo +nightly --version >/dev/null 2>&1; then toolchain=(+nightly); else export RUSTC_BOOTSTRAP=1; fi
# -timeout: one input may take at most 10 s (a policy at the 16 MiB limit checks in well under
# one); -rss_limit_mb: 2 GiB, twenty times what the largest input within the limits needs.
exec cargo "${toolchain[@]}" fuzz run -O "$target" "corpus/$target" -- \
    -dict=entitle.dict -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="artifacts/$target-"
