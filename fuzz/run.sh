#!/usr/bin/env bash
# Coverage-guided fuzzing of one target for a bounded time: SharpFuzz instruments the library, AFL++ drives it.
#   fuzz/run.sh safetensors|tokenizer [SECONDS=600]
# Needs afl-fuzz (Debian: apt-get install afl++) and the .NET SDK; the sharpfuzz tool comes from fuzz/.config.
# Writes fuzz/out/TARGET (AFL's state; gitignored), copies crashes and hangs to fuzz/findings/TARGET (commit them: the
# tests replay every file there), and prints the executions run and what was found.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGET="${1:?usage: fuzz/run.sh safetensors|tokenizer [seconds]}"
SECONDS_BUDGET="${2:-600}"
BUILD="$HERE/out/build"
OUT="$HERE/out/$TARGET"

command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: apt-get install afl++" >&2; exit 1; }
cd "$HERE"
dotnet tool restore >/dev/null
rm -rf "$BUILD"
dotnet build "$HERE/TransformerEmbeddings.Fuzz" -c Release -o "$BUILD" -v q -nologo >/dev/null
# Instrument the library only (its tokenizers, configuration and safetensors readers are what is fuzzed).
dotnet sharpfuzz "$BUILD/TransformerEmbeddings.dll"

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
export DOTNET_TieredPGO=0
rm -rf "$OUT"
mkdir -p "$OUT"
set +e
afl-fuzz -i "$HERE/corpus/$TARGET" -o "$OUT" -x "$HERE/dict/$TARGET.dict" -t 10000 -m none -V "$SECONDS_BUDGET" \
    -- dotnet "$BUILD/te-fuzz.dll" "$TARGET" > "$OUT/afl.log" 2>&1
status=$?
set -e

STATS="$OUT/default/fuzzer_stats"
[ -f "$STATS" ] || { echo "afl-fuzz stopped without statistics (exit $status); see $OUT/afl.log" >&2; tail -20 "$OUT/afl.log" >&2; exit 1; }
value() { awk -F: -v k="$1" '{gsub(/ /,"",$1); if ($1==k) {gsub(/^ +| +$/,"",$2); print $2}}' "$STATS"; }
mkdir -p "$HERE/findings/$TARGET"
found=0
for kind in crashes hangs; do
    for f in "$OUT/default/$kind"/id:*; do
        [ -e "$f" ] || continue
        found=$((found + 1))
        cp "$f" "$HERE/findings/$TARGET/$kind-$(sha1sum "$f" | cut -c1-12)"
    done
done
echo "target $TARGET: $(value execs_done) executions in $(value run_time) s ($(value execs_per_sec) per second), corpus $(value corpus_count), " \
     "edges $(value edges_found), crashes $(value saved_crashes), hangs $(value saved_hangs); $found new files in fuzz/findings/$TARGET"
