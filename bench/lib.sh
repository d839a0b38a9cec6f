# The benchmarks' statistics, one way for every script (sourced:
# . "$(dirname "$0")/lib.sh").  This VM switches between a fast and a slow
# mode for minutes at a time, so a ratio of medians of runs can compare a
# fast run with a slow one; the two runs of an alternating pair are most
# often in the same mode, so the median of the pairs' ratios is the figure
# to read where a script has pairs.

# The median of the numbers in FILE (or on stdin), one per line: the middle
# one as written, or the mean of the two middle ones; "-" for none.
median() {
	sort -g "$@" | awk '{v[NR] = $1} END {
		if (!NR) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.10g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# A / B with DIGITS decimals (default 3); "-" unless both are positive.
ratio() {
	awk -v a="$1" -v b="$2" -v d="${3:-3}" \
		'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.*f\n", d, a / b; else print "-"}'
}

# Line by line, A's number over B's (files of one number a line, run i of
# each the pair i), 4 decimals.
pair_ratios() {
	paste "$1" "$2" | awk 'NF == 2 && $1 + 0 > 0 && $2 + 0 > 0 {printf "%.4f\n", $1 / $2}'
}
