#!/usr/bin/env bash
# One million short lines piped through one xlate process (`make bench-million`; not part of `make test`).
#
# Checks, and exits non-zero when one fails:
#   - exit status 0;
#   - as many output lines as input lines;
#   - each output line is the translation of its own input line: the input cycles through DISTINCT different short
#     lines, and a translation does not depend on the batch it ran in, so output line i must equal output line
#     i mod DISTINCT (a line lost, duplicated or moved anywhere in the million shows up here);
#   - peak RSS (/usr/bin/time %M) at most MAX_RSS_MB.
# Prints lines, wall time, lines/s and peak RSS.
#
#   Benchmarks/million_lines.sh                 1,000,000 lines, greedy (--beam 1)
#   LINES=100000 Benchmarks/million_lines.sh    a shorter run
#
# Environment: LINES (1000000), XLATE (.build/release/xlate), XLATE_ARGS ("--src en --tgt de --beam 1"),
# DISTINCT (1000), MAX_RSS_MB (1024), XLATE_SHARED (../shared: the short lines come from its
# eval/tatoeba-test.en; without it, numbered "Hello" lines are used).
set -uo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-1000000}
XLATE=${XLATE:-.build/release/xlate}
XLATE_ARGS=${XLATE_ARGS:---src en --tgt de --beam 1}
DISTINCT=${DISTINCT:-1000}
MAX_RSS_MB=${MAX_RSS_MB:-1024}
TATOEBA=${XLATE_SHARED:-../shared}/eval/tatoeba-test.en

[ -x "$XLATE" ] || { echo "million_lines: $XLATE not found; build it first (make build)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "million_lines: /usr/bin/time is needed for peak RSS (apt-get install time)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# DISTINCT different short lines (10 to 40 characters), then LINES lines cycling through them.
if [ -f "$TATOEBA" ]; then
    source_name=$TATOEBA
    awk 'length($0) >= 10 && length($0) <= 40 && !seen[$0]++' "$TATOEBA" | head -n "$DISTINCT" > "$work/distinct"
else
    source_name="numbered Hello lines ($TATOEBA not found)"
    awk -v n="$DISTINCT" 'BEGIN { for (i = 0; i < n; i++) printf "Hello, this is line %d.\n", i }' > "$work/distinct"
fi
distinct=$(wc -l < "$work/distinct")
[ "$distinct" -gt 0 ] || { echo "million_lines: no input lines" >&2; exit 2; }
awk -v n="$LINES" '{ line[NR - 1] = $0 } END { for (i = 0; i < n; i++) print line[i % NR] }' "$work/distinct" > "$work/input"

echo "million_lines: $LINES lines cycling $distinct distinct ones from $source_name | $XLATE $XLATE_ARGS"
# shellcheck disable=SC2086  # XLATE_ARGS is a list of arguments
cat "$work/input" | /usr/bin/time -f '%e %M' -o "$work/time" "$XLATE" $XLATE_ARGS --quiet > "$work/output" 2> "$work/stderr"
status=${PIPESTATUS[1]}

read -r seconds rss_kb < <(tail -n 1 "$work/time")
out_lines=$(wc -l < "$work/output")
# Output line i against output line i mod distinct; empty translations of the distinct lines are only counted.
read -r mismatches empty < <(awk -v k="$distinct" '
    NR <= k { first[NR - 1] = $0; if ($0 == "") empty++; next }
    $0 != first[(NR - 1) % k] { bad++ }
    END { print bad + 0, empty + 0 }' "$work/output")
rss_mb=$(( rss_kb / 1024 ))
rate=$(awk -v n="$out_lines" -v s="$seconds" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')

printf 'exit status      %s\n' "$status"
printf 'lines in / out   %s / %s\n' "$LINES" "$out_lines"
printf 'misplaced lines  %s (output line i differs from line i mod %s)\n' "$mismatches" "$distinct"
printf 'empty outputs    %s of the %s distinct lines\n' "$empty" "$distinct"
printf 'wall time        %s s (%s lines/s)\n' "$seconds" "$rate"
printf 'peak RSS         %s MiB (limit %s)\n' "$rss_mb" "$MAX_RSS_MB"

failed=0
[ "$status" -eq 0 ] || { echo "FAIL: exit status $status; stderr:" >&2; tail -n 5 "$work/stderr" >&2; failed=1; }
[ "$out_lines" -eq "$LINES" ] || { echo "FAIL: $out_lines output lines for $LINES input lines" >&2; failed=1; }
[ "$mismatches" -eq 0 ] || { echo "FAIL: $mismatches output lines are not the translation of their input line" >&2; failed=1; }
[ "$rss_mb" -le "$MAX_RSS_MB" ] || { echo "FAIL: peak RSS $rss_mb MiB over $MAX_RSS_MB MiB" >&2; failed=1; }
[ "$failed" -eq 0 ] && echo "million_lines: OK"
exit "$failed"
