/*
 * The btc bot's message catalogue (English, as the original; "{name}"
 * marks what bc_tmpl() fills in), and dollar amounts in and out.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "btc.h"

const struct btc_texts btc_texts = {
	.start = "Hi! I watch the Bitcoin price for you.\n"
	    "/price - the current BTC price (the message keeps updating)\n"
	    "/set_check_btc_price - an alert when BTC reaches a price\n"
	    "/list_alerts - the alerts of this chat\n"
	    "/delete_alert - delete an alert\n"
	    "/cancel - stop entering a price",
	.price = "Current BTC Price: ${price} USD",
	.unavailable = "Sorry, the BTC price is unavailable right now. "
	    "Please try again in a minute.",
	.ask_target = "Send me the target price in USD (for example 65000), "
	    "or /cancel.",
	.bad_target = "That is not a price I can watch. Send a number of "
	    "dollars between 1 and 10,000,000, for example 65000 or "
	    "64999.50, or /cancel.",
	.alert_set = "Alert set for ${target}. I will tell you when BTC is "
	    "within ${tolerance} of it.",
	.too_many = "This chat already has {max} alerts. Delete one with "
	    "/delete_alert first.",
	.list_empty = "There are no alerts in this chat. Set one with "
	    "/set_check_btc_price.",
	.list_head = "Alerts in this chat:",
	.list_item = "#{id}: ${target}",
	.delete_choose = "Which alert should I delete?",
	.delete_button = "Delete #{id}: ${target}",
	.delete_done = "Alert #{id} for ${target} deleted.",
	.delete_none = "There is no alert #{id} in this chat. See "
	    "/list_alerts.",
	.delete_usage = "Usage: /delete_alert [number], the number shown by "
	    "/list_alerts.",
	.reached = "Target price reached! BTC is at ${price} (your target: "
	    "${target}).",
	.step_up = "\xf0\x9f\x9a\x80 Price reached ${step}",
	.step_down = "\xf0\x9f\x94\xbb Price fell below ${step}",
	.cancelled = "Cancelled.",
	.nothing_to_cancel = "There is nothing to cancel.",
	.unknown = "I don't know that command. /start lists mine.",
	.error = "Sorry, something went wrong. Please try again.",
	.wait = "Not so fast: try again in {s} s.",
};

/* cents as "65,000.00" (or "65,000" without cents) into buf. */
void
btc_fmt_usd(char *buf, size_t sz, int64_t cents, int with_cents)
{
	char digits[32], grouped[48];
	unsigned long long whole;
	size_t len, i, j = 0;
	int neg = cents < 0;

	whole = (unsigned long long)(neg ? -(cents / 100) : cents / 100);
	len = (size_t)snprintf(digits, sizeof digits, "%llu", whole);
	for (i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			grouped[j++] = ',';
		grouped[j++] = digits[i];
	}
	grouped[j] = '\0';
	if (with_cents)
		snprintf(buf, sz, "%s%s.%02d", neg ? "-" : "", grouped,
		    (int)((neg ? -cents : cents) % 100));
	else
		snprintf(buf, sz, "%s%s", neg ? "-" : "", grouped);
}

/*
 * A dollar amount from a user: an optional '$', digits with optional
 * thousands commas, an optional '.' and one or two digits of cents, and
 * optional surrounding spaces and a trailing "USD". Between 1 and
 * BTC_MAX_USD dollars. 0 with *cents set, or -1.
 */
int
btc_parse_usd(const char *s, int64_t *cents)
{
	int64_t whole = 0, frac = 0;
	int ndig = 0, nfrac = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '$')
		s++;
	for (; (*s >= '0' && *s <= '9') || (*s == ',' && ndig > 0); s++) {
		if (*s == ',')
			continue;
		if (++ndig > 9)
			return -1;
		whole = whole * 10 + (*s - '0');
	}
	if (ndig == 0)
		return -1;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++) {
			if (++nfrac > 2)
				return -1;
			frac = frac * 10 + (*s - '0');
		}
		if (nfrac == 1)
			frac *= 10;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncasecmp(s, "usd", 3) == 0)
		s += 3;
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (*s != '\0' || whole < 1 || whole > BTC_MAX_USD ||
	    (whole == BTC_MAX_USD && frac > 0))
		return -1;
	*cents = whole * 100 + frac;
	return 0;
}
