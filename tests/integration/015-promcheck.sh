#!/bin/sh
# 015-promcheck: the strict Prometheus text format checker used on every
# /metrics (tests/fakes/promcheck), through good and bad inputs: each bad
# one must fail with exit 1 and the line number and reason given.
. "$(dirname "$0")/lib.sh"

PC=$BOTFLEET_BUILD/tests/fakes/promcheck

t_plan 42 015-promcheck

# good NAME TEXT: TEXT (printf format) passes.
good() {
	printf "$2" >"$W/in"
	if "$PC" "$W/in" 2>"$W/err"; then
		ok "good: $1"
	else
		not_ok "good: $1"
		diag "$(cat "$W/err")"
	fi
}

# bad NAME WANT TEXT: TEXT fails with exit 1 and a message containing WANT
# (like "line 3: bad value").
bad() {
	printf "$3" >"$W/in"
	"$PC" "$W/in" 2>"$W/err"
	rc=$?
	if [ "$rc" = 1 ] && grep -qF "$2" "$W/err"; then
		ok "bad: $1"
	else
		not_ok "bad: $1"
		diag "exit $rc, wanted 1 and '$2'" "$(cat "$W/err")"
	fi
}

H='# HELP h Latency.\n# TYPE h histogram\n'

good "empty input" ''
good "counter, gauge, labels, escapes, timestamp" \
'# HELP a_total Things \\\\ done.\\nMore.\n# TYPE a_total counter
a_total{k="v",x="q\\"uo\\\\te\\nnl"} 3 1700000000000
a_total{k="w"} 0
# a comment
# TYPE g gauge
g -1.5e-3
g{s="ü"} NaN
g{s="x",} +Inf
g{s="y"} -Inf
'
good "histogram with two series" "$H"\
'h_bucket{m="a",le="0.1"} 1
h_bucket{m="a",le="1"} 2
h_bucket{m="a",le="+Inf"} 2
h_sum{m="a"} 0.3
h_count{m="a"} 2
h_bucket{m="b",le="+Inf"} 0
h_sum{m="b"} 0
h_count{m="b"} 0
'
good "summary and untyped" \
'# TYPE s summary
s{quantile="0.5"} 1
s{quantile="1"} 2
s_sum 3
s_count 2
u 1
'
printf 'x 1\n' | "$PC" >/dev/null 2>&1
is "reads standard input" "$?" 0

bad "no final line feed" "line 1: no line feed" 'x 1'
bad "carriage return" "line 1: carriage return" 'x 1\r\n'
bad "invalid UTF-8" "line 1: invalid UTF-8" 'x{a="\377"} 1\n'
bad "metric name" "line 1: bad metric name" '1x 1\n'
bad "metric name in TYPE" "line 1: bad metric name in # TYPE" \
    '# TYPE a-b counter\n'
bad "unknown type" 'line 1: unknown type "counters"' \
    '# TYPE a counters\n'
bad "label name" "line 1: bad label name" 'x{1a="v"} 1\n'
bad "reserved label name" "reserved" 'x{__name__="v"} 1\n'
bad "label twice" 'label "a" twice' 'x{a="1",a="2"} 1\n'
bad "unquoted label value" "not quoted" 'x{a=1} 1\n'
bad "bad escape in label value" "line 1: bad escape in label value" \
    'x{a="\\t"} 1\n'
bad "unterminated label value" "not terminated" 'x{a="v} 1\n'
bad "missing comma" "expected ','" 'x{a="1" b="2"} 1\n'
bad "bad escape in HELP" "bad escape" '# HELP x a \\t b\n'
bad "bad value" 'line 2: bad value "1,5"' 'x 1\ny 1,5\n'
bad "hex value" 'bad value' 'x 0x10\n'
bad "lower-case inf" 'bad value' 'x inf\n'
bad "missing value" 'no blank before the value' 'x\n'
bad "bad timestamp" 'bad timestamp' 'x 1 12.5\n'
bad "trailing blank" "trailing blank" 'x 1 \n'
bad "leading blank" "leading blank" ' x 1\n'
bad "TYPE after samples" "line 2: # TYPE for x after its samples" \
    'x 1\n# TYPE x gauge\n'
bad "second HELP" "second # HELP" '# HELP x a\n# HELP x b\n'
bad "family not together" "line 4: lines of x are not together" \
    '# TYPE x gauge\nx{a="1"} 1\ny 2\nx{a="2"} 1\n'
bad "duplicate series" "line 2: series x appears twice" \
    'x{a="1",b="2"} 1\nx{b="2",a="1"} 3\n'
bad "negative counter" "negative" '# TYPE c counter\nc -1\n'
bad "histogram without +Inf" 'line 3: histogram h: a series has no le="+Inf"' \
    "$H"'h_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'
bad "histogram le not increasing" 'line 4: histogram h: le "0.5" not above' \
    "$H"'h_bucket{le="1"} 1\nh_bucket{le="0.5"} 1\n'
bad "histogram counts decreasing" 'count decreases' \
    "$H"'h_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n'
bad "histogram bucket after +Inf" 'bucket after le="+Inf"' \
    "$H"'h_bucket{le="+Inf"} 1\nh_bucket{le="2"} 1\n'
bad "histogram without le" 'bucket without le' "$H"'h_bucket 1\n'
bad "histogram bad le" 'bad le "x"' "$H"'h_bucket{le="x"} 1\n'
bad "histogram without _count" 'has no _count' \
    "$H"'h_bucket{le="+Inf"} 1\nh_sum 1\n'
bad "histogram _count differs" '_count 2 differs' \
    "$H"'h_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n'
bad "histogram plain sample" 'is not _bucket, _sum or _count' "$H"'h 1\n'
bad "summary without quantile" 'missing or bad quantile' \
    '# TYPE s summary\ns 1\n'

"$PC" -x 2>/dev/null
is "usage error: exit 2" "$?" 2
t_done
