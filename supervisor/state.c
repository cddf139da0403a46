/*
 * The state machine of one bot: the wanted state (up or down, changed only
 * by requests) apart from the actual one, one death counter for backoff
 * and crash-loop detection, readiness and heartbeats.
 *
 *   STOPPED  --want up-->  STARTING  --READY=1 / start_seconds-->  RUNNING
 *   STARTING, RUNNING  --want down-->  STOPPING  --tree gone-->  STOPPED
 *   STARTING, RUNNING  --death-->  BACKOFF (timer) --> STARTING
 *                                  FATAL (crash loop, exit 100)
 *                                  EXITED (restart = never, on-failure)
 *   FATAL  --fatal_retry-->  STARTING;  FATAL  --want up-->  STARTING
 *
 * A death is decided in the same loop iteration as the reap: no ticks.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include <botcommon/backoff.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "supervisor.h"

#define STATE_JITTER		0.2	/* +/- 20 % on backoff delays */
#define STATE_RECHECK_MS	100	/* after SIGKILL: is the tree gone? */
#define STATE_KILL_WARN		50	/* rechecks before a warning */

static const char *state_names[] = {
	"STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED",
	"FATAL",
};

static const char *cause_names[] = {
	"exit", "signal", "watchdog", "start-timeout", "stopped",
};

static void	state_spawn(struct bot *);
static void	state_timer_cb(void *);
static void	state_watchdog_cb(void *);

const char *
state_name(enum bot_state s)
{
	if ((size_t)s >= BC_NELEM(state_names))
		return "UNKNOWN";
	return state_names[s];
}

const char *
want_name(enum bot_want w)
{
	return w == WANT_UP ? "up" : "down";
}

struct bot *
bot_new(const struct bot_conf *bc)
{
	struct bot *b = xcalloc(1, sizeof *b);

	b->conf = config_bot_dup(bc);
	b->state = STATE_STOPPED;
	b->want = WANT_DOWN;
	b->pidfd = -1;
	b->notify_fd = -1;
	b->lock_fd = -1;
	b->kill_cause = DEATH_NONE;
	b->last_cause = DEATH_NONE;
	b->state_since = bc_now_ms();
	if ((b->timer = bc_timer_new(state_timer_cb, b)) == NULL ||
	    (b->watchdog = bc_timer_new(state_watchdog_cb, b)) == NULL)
		fatalx("cannot create timers");
	return b;
}

void
bot_free(struct bot *b)
{
	if (b == NULL)
		return;
	bc_timer_free(b->timer);
	bc_timer_free(b->watchdog);
	child_notify_close(b);
	if (b->pidfd != -1)
		close(b->pidfd);
	if (b->lock_fd != -1)
		close(b->lock_fd);
	logs_close(b->log);
	config_bot_free(b->conf);
	config_bot_free(b->conf_next);
	free(b);
}

int
bot_is_down(const struct bot *b)
{
	return b->pid == 0 && b->state != STATE_STOPPING &&
	    b->state != STATE_STARTING && b->state != STATE_RUNNING;
}

/*
 * Arm a timer from now: libevent counts from the time it cached when the
 * loop woke up, and a fork since then may have taken milliseconds.
 */
static void
state_timer_start(struct bc_timer *t, int64_t ms)
{
	event_base_update_cache_time(bc_ev_base());
	bc_timer_start(t, ms);
}

/* Enter state s and tell everyone who cares. */
static void
state_set(struct bot *b, enum bot_state s)
{
	if (b->state != s) {
		log_debug("bot %s: %s -> %s", b->conf->name,
		    state_name(b->state), state_name(s));
		b->state = s;
		b->state_since = bc_now_ms();
	}
	if (s != STATE_BACKOFF)
		b->backoff_until = 0;
	botd_changed(b);
}

/* Forget the deaths: a fresh start, or a stable uptime. */
static void
state_clear_deaths(struct bot *b)
{
	b->deaths = 0;
	b->ndeaths_ring = 0;
}

/* Deaths within the crash-loop window, counting the ring back from now. */
static int
state_deaths_in_window(const struct bot *b, int64_t now)
{
	unsigned i, n = 0, max = BC_NELEM(b->deaths_ms);
	unsigned have = b->ndeaths_ring < max ? b->ndeaths_ring : max;

	for (i = 0; i < have; i++) {
		int64_t t = b->deaths_ms[(b->ndeaths_ring - 1 - i) % max];

		if (now - t > b->conf->crashloop_window_ms)
			break;
		n++;
	}
	return (int)n;
}

/* Start a stop: the stop signal to the tree, SIGKILL after the timeout. */
static void
state_stop(struct bot *b)
{
	bc_timer_stop(b->watchdog);
	b->kill_sent = 0;
	state_set(b, STATE_STOPPING);
	log_info("bot %s: stopping (%s, then KILL after %lld ms)",
	    b->conf->name, config_signame(b->conf->stop_signal),
	    (long long)b->conf->stop_timeout_ms);
	/* The stop signal and SIGCONT from one snapshot of /proc. */
	child_batch_begin();
	child_signal_tree(b, b->conf->stop_signal);
	if (b->conf->stop_signal == SIGKILL)
		b->kill_sent = 1;
	if (b->conf->stop_signal != SIGCONT)
		child_signal_tree(b, SIGCONT);
	child_batch_end();
	state_timer_start(b->timer, b->kill_sent ? STATE_RECHECK_MS :
	    b->conf->stop_timeout_ms);
}

/* Kill the whole tree now (watchdog, start timeout): a failure. */
static void
state_kill(struct bot *b, enum death_cause why)
{
	bc_timer_stop(b->watchdog);
	b->kill_cause = why;
	b->kill_sent = 1;
	state_set(b, STATE_STOPPING);
	child_signal_tree(b, SIGKILL);
	state_timer_start(b->timer, STATE_RECHECK_MS);
}

/* The stop finished: the main process is reaped and the tree is gone. */
static void
state_stopped(struct bot *b)
{
	bc_timer_stop(b->timer);
	bc_timer_stop(b->watchdog);
	b->kill_sent = 0;
	log_info("bot %s: stopped", b->conf->name);
	if (b->want == WANT_UP && !b->removed)
		state_spawn(b);
	else
		state_set(b, STATE_STOPPED);
}

/* Become RUNNING. */
static void
state_running(struct bot *b)
{
	bc_timer_stop(b->timer);
	if (b->conf->watchdog_ms > 0)
		state_timer_start(b->watchdog, b->conf->watchdog_ms);
	b->last_beat_ms = bc_now_ms();
	log_info("bot %s: running (pid %ld)", b->conf->name, (long)b->pid);
	state_set(b, STATE_RUNNING);
	alert_bot_running(b);
}

/* Give up: one alert per crash loop, then a slow retry if configured. */
static void
state_fatal(struct bot *b, int retry, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
state_fatal(struct bot *b, int retry, const char *fmt, ...)
{
	va_list ap;
	int64_t next = retry && b->conf->fatal_retry_ms > 0 ?
	    b->conf->fatal_retry_ms : -1;

	va_start(ap, fmt);
	vsnprintf(b->fatal_reason, sizeof b->fatal_reason, fmt, ap);
	va_end(ap);
	if (!b->fatal_alerted) {
		log_warnx("bot %s: gave up: %s", b->conf->name,
		    b->fatal_reason);
		alert_bot_fatal(b, next);
	} else {
		log_info("bot %s: still failing: %s", b->conf->name,
		    b->fatal_reason);
		alert_bot_died(b, next);
	}
	b->fatal_alerted = 1;
	if (retry && b->conf->fatal_retry_ms > 0)
		state_timer_start(b->timer, b->conf->fatal_retry_ms);
	state_set(b, STATE_FATAL);
}

/*
 * Back off before the next start. A delay of 0 spawns now, unless the
 * death was a failed spawn (which would recurse): that waits 1 ms.
 */
static void
state_backoff(struct bot *b, int spawn_failed)
{
	int64_t d;

	d = bc_backoff_delay(b->conf->backoff_initial_ms,
	    b->conf->backoff_max_ms, STATE_JITTER, b->deaths - 1,
	    bc_random_unit());
	alert_bot_died(b, d == 0 && spawn_failed ? 1 : d);
	if (d == 0 && !spawn_failed) {
		state_spawn(b);
		return;
	}
	if (d == 0)
		d = 1;
	b->backoff_until = bc_now_ms() + d;
	log_info("bot %s: restarting in %lld ms (death %u)", b->conf->name,
	    (long long)d, b->deaths);
	state_timer_start(b->timer, d);
	state_set(b, STATE_BACKOFF);
}

/* The decision after a death nobody asked for. */
static void
state_death(struct bot *b, int spawn_failed)
{
	const struct bot_conf *c = b->conf;
	int64_t now = bc_now_ms();
	unsigned max = BC_NELEM(b->deaths_ms);
	int n;

	if (b->last_uptime_ms >= c->backoff_reset_ms) {
		state_clear_deaths(b);
		b->fatal_alerted = 0;
	}
	b->deaths++;
	b->deaths_ms[b->ndeaths_ring % max] = now;
	b->ndeaths_ring++;
	if (b->ndeaths_ring >= 2 * max)
		b->ndeaths_ring -= max;
	if (b->last_cause == DEATH_EXIT && b->last_code == BC_EXIT_PERM) {
		state_fatal(b, 0, "exited with code %d (permanent failure)",
		    BC_EXIT_PERM);
		return;
	}
	if (c->restart == RESTART_NEVER || (c->restart ==
	    RESTART_ON_FAILURE && b->last_cause == DEATH_EXIT &&
	    b->last_code == 0)) {
		/* A clean exit the policy does not restart is no alarm. */
		if (b->last_cause != DEATH_EXIT || b->last_code != 0)
			alert_bot_died(b, -1);
		state_set(b, STATE_EXITED);
		return;
	}
	if ((n = state_deaths_in_window(b, now)) >= c->crashloop_deaths) {
		state_fatal(b, 1, "crash loop: %d deaths within %lld ms", n,
		    (long long)c->crashloop_window_ms);
		return;
	}
	state_backoff(b, spawn_failed);
}

/* Fork the child, or count the failure as a death. */
static void
state_spawn(struct bot *b)
{
	char *cause = NULL;

	bc_timer_stop(b->timer);
	bc_timer_stop(b->watchdog);
	if (b->conf_next != NULL) {
		config_bot_free(b->conf);
		b->conf = b->conf_next;
		b->conf_next = NULL;
	}
	b->kill_cause = DEATH_NONE;
	b->kill_sent = 0;
	b->ready = 0;
	b->status_text[0] = '\0';
	if (botd_lock_bot(b, &cause) == -1 || child_spawn(b, &cause) == -1) {
		log_warnx("bot %s: cannot start: %s", b->conf->name, cause);
		if (b->log != NULL)
			logs_note(b->log, "cannot start: %s", cause);
		free(cause);
		b->has_exited = 1;
		b->last_cause = DEATH_EXIT;
		b->last_code = BC_EXIT_TEMP;
		b->exit_signal = 0;
		b->last_exit_wall = bc_wall_ms();
		b->last_uptime_ms = 0;
		state_death(b, 1);
		return;
	}
	if (b->spawned)
		b->restarts++;
	b->spawned = 1;
	b->started_ms = bc_now_ms();
	b->started_wall = bc_wall_ms();
	b->last_beat_ms = b->started_ms;
	log_info("bot %s: started (pid %ld)", b->conf->name, (long)b->pid);
	if (b->conf->ready == READY_NOTIFY)
		state_timer_start(b->timer, b->conf->start_timeout_ms);
	else if (b->conf->start_seconds_ms > 0)
		state_timer_start(b->timer, b->conf->start_seconds_ms);
	else {
		state_running(b);
		return;
	}
	state_set(b, STATE_STARTING);
}

/* b->timer: start timeouts, backoff, slow retry, stop timeout. */
static void
state_timer_cb(void *arg)
{
	struct bot *b = arg;

	switch (b->state) {
	case STATE_STARTING:
		if (b->conf->ready == READY_NONE) {
			state_running(b);
			break;
		}
		log_warnx("bot %s: no READY=1 within %lld ms", b->conf->name,
		    (long long)b->conf->start_timeout_ms);
		state_kill(b, DEATH_START_TIMEOUT);
		break;
	case STATE_BACKOFF:
	case STATE_FATAL:
		state_spawn(b);
		break;
	case STATE_STOPPING:
		if (!b->kill_sent)
			log_warnx("bot %s: still running after %lld ms; "
			    "sending KILL", b->conf->name,
			    (long long)b->conf->stop_timeout_ms);
		b->kill_sent++;
		if (b->kill_sent == STATE_KILL_WARN)
			log_warnx("bot %s: processes survive SIGKILL",
			    b->conf->name);
		child_signal_tree(b, SIGKILL);
		state_timer_start(b->timer, STATE_RECHECK_MS);
		bot_tree_check(b);
		break;
	default:
		break;
	}
}

/* No heartbeat within the watchdog interval: kill and restart. */
static void
state_watchdog_cb(void *arg)
{
	struct bot *b = arg;

	if (b->state != STATE_RUNNING)
		return;
	log_warnx("bot %s: watchdog: no WATCHDOG=1 within %lld ms; killing",
	    b->conf->name, (long long)b->conf->watchdog_ms);
	state_kill(b, DEATH_WATCHDOG);
}

void
bot_want_up(struct bot *b)
{
	b->want = WANT_UP;
	switch (b->state) {
	case STATE_FATAL:
		b->fatal_alerted = 0;
		b->fatal_reason[0] = '\0';
		/* FALLTHROUGH */
	case STATE_STOPPED:
	case STATE_EXITED:
		state_clear_deaths(b);
		state_spawn(b);
		break;
	case STATE_BACKOFF:
		state_spawn(b);
		break;
	default:
		botd_changed(b);
		break;
	}
}

void
bot_want_down(struct bot *b)
{
	b->want = WANT_DOWN;
	switch (b->state) {
	case STATE_STARTING:
	case STATE_RUNNING:
		state_stop(b);
		break;
	case STATE_BACKOFF:
	case STATE_FATAL:
	case STATE_EXITED:
		bc_timer_stop(b->timer);
		state_set(b, STATE_STOPPED);
		break;
	default:
		botd_changed(b);
		break;
	}
}

void
bot_restart(struct bot *b)
{
	switch (b->state) {
	case STATE_STARTING:
	case STATE_RUNNING:
		b->want = WANT_UP;
		state_stop(b);
		break;
	case STATE_STOPPING:
		b->want = WANT_UP;
		botd_changed(b);
		break;
	default:
		bot_want_up(b);
		break;
	}
}

/* Record how the child ended. */
static void
state_record_exit(struct bot *b, int wstatus)
{
	int64_t now = bc_now_ms();

	b->has_exited = 1;
	b->last_exit_wall = bc_wall_ms();
	b->last_uptime_ms = now - b->started_ms;
	b->exit_signal = WIFSIGNALED(wstatus);
	b->last_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) :
	    WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
	if (b->kill_cause != DEATH_NONE)
		b->last_cause = b->kill_cause;
	else if (b->state == STATE_STOPPING)
		b->last_cause = DEATH_STOPPED;
	else if (b->exit_signal)
		b->last_cause = DEATH_SIGNAL;
	else
		b->last_cause = DEATH_EXIT;
	b->deaths_by[b->last_cause]++;
	if (b->exit_signal)
		log_info("bot %s: pid %ld killed by signal %s (%s) after "
		    "%lld ms", b->conf->name, (long)b->pid,
		    config_signame(b->last_code), cause_names[b->last_cause],
		    (long long)b->last_uptime_ms);
	else
		log_info("bot %s: pid %ld exited with code %d (%s) after "
		    "%lld ms", b->conf->name, (long)b->pid, b->last_code,
		    cause_names[b->last_cause], (long long)b->last_uptime_ms);
	if (b->log != NULL)
		logs_note(b->log, "exited (%s %d, %s)", b->exit_signal ?
		    "signal" : "code", b->last_code,
		    cause_names[b->last_cause]);
}

void
bot_child_exited(struct bot *b, int wstatus)
{
	state_record_exit(b, wstatus);
	b->pid = 0;
	if (b->pidfd != -1) {
		close(b->pidfd);
		b->pidfd = -1;
	}
	child_notify_close(b);
	bc_timer_stop(b->watchdog);
	if (b->state == STATE_STOPPING && b->kill_cause == DEATH_NONE) {
		bot_tree_check(b);
		return;
	}
	/* A failure: whatever is left of this instance goes now. */
	bc_timer_stop(b->timer);
	child_signal_tree(b, SIGKILL);
	b->kill_cause = DEATH_NONE;
	b->kill_sent = 0;
	if (b->want == WANT_DOWN || b->removed) {
		state_set(b, STATE_STOPPED);
		return;
	}
	state_death(b, 0);
}

void
bot_tree_check(struct bot *b)
{
	if (b->state != STATE_STOPPING || b->pid != 0 ||
	    b->kill_cause != DEATH_NONE)
		return;
	if (child_tree_alive(b))
		return;
	state_stopped(b);
}

/* STATUS= text: control bytes become spaces. */
static void
state_status_text(struct bot *b, const char *s)
{
	char buf[BOTD_STATUS_MAX + 1];
	size_t i;

	bc_strlcpy(buf, s, sizeof buf);
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = ' ';
	if (strcmp(buf, b->status_text) == 0)
		return;
	memcpy(b->status_text, buf, sizeof buf);
	botd_changed(b);
}

void
bot_notify_line(struct bot *b, const char *line)
{
	if (strcmp(line, "READY=1") == 0) {
		b->ready = 1;
		if (b->state == STATE_STARTING)
			state_running(b);
		else
			botd_changed(b);
	} else if (strcmp(line, "WATCHDOG=1") == 0) {
		b->last_beat_ms = bc_now_ms();
		if (b->state == STATE_RUNNING && b->conf->watchdog_ms > 0)
			state_timer_start(b->watchdog, b->conf->watchdog_ms);
	} else if (strncmp(line, "STATUS=", 7) == 0)
		state_status_text(b, line + 7);
	else
		log_debug("bot %s: unknown notify line ignored",
		    b->conf->name);
}

/* An ISO 8601 UTC time for ms since the epoch. */
static json_t *
state_json_time(int64_t wall_ms)
{
	char buf[32];
	struct tm tm;
	time_t t = (time_t)(wall_ms / 1000);

	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

/* The last exit: code or signal, cause, when, after how long. */
static void
state_json_exit(const struct bot *b, json_t *o)
{
	if (!b->has_exited) {
		json_object_set_new(o, "last_exit_code", json_null());
		json_object_set_new(o, "last_exit_signal", json_null());
		json_object_set_new(o, "last_exit_cause", json_null());
		json_object_set_new(o, "last_exit_time", json_null());
		return;
	}
	json_object_set_new(o, "last_exit_code", b->exit_signal ?
	    json_null() : json_integer(b->last_code));
	json_object_set_new(o, "last_exit_signal", b->exit_signal ?
	    json_string(config_signame(b->last_code)) : json_null());
	json_object_set_new(o, "last_exit_cause",
	    json_string(cause_names[b->last_cause]));
	json_object_set_new(o, "last_exit_time",
	    state_json_time(b->last_exit_wall));
	json_object_set_new(o, "last_uptime_ms",
	    json_integer(b->last_uptime_ms));
}

json_t *
bot_status_json(const struct bot *b)
{
	json_t *o = json_object();
	int64_t now = bc_now_ms(), mem, mute;

	json_object_set_new(o, "name", json_string(b->conf->name));
	json_object_set_new(o, "state", json_string(state_name(b->state)));
	json_object_set_new(o, "wanted", json_string(want_name(b->want)));
	json_object_set_new(o, "pid", b->pid != 0 ?
	    json_integer(b->pid) : json_null());
	json_object_set_new(o, "uptime_ms", b->pid != 0 ?
	    json_integer(now - b->started_ms) : json_null());
	json_object_set_new(o, "started", b->pid != 0 ?
	    state_json_time(b->started_wall) : json_null());
	json_object_set_new(o, "state_ms", json_integer(now - b->state_since));
	json_object_set_new(o, "ready", json_boolean(b->ready));
	json_object_set_new(o, "restarts", json_integer(b->restarts));
	json_object_set_new(o, "deaths", json_integer(b->deaths));
	state_json_exit(b, o);
	json_object_set_new(o, "backoff_ms", b->state == STATE_BACKOFF ?
	    json_integer(b->backoff_until > now ? b->backoff_until - now : 0) :
	    json_null());
	mem = b->pid != 0 ? child_memory(b) : -1;
	json_object_set_new(o, "memory_bytes", mem >= 0 ?
	    json_integer(mem) : json_null());
	json_object_set_new(o, "status", json_string(b->status_text));
	json_object_set_new(o, "fatal_reason", b->state == STATE_FATAL ?
	    json_string(b->fatal_reason) : json_null());
	mute = alert_muted_until(b->conf->name);
	json_object_set_new(o, "alerts_muted_until", mute > 0 ?
	    state_json_time(mute) : json_null());
	if (b->log != NULL) {
		json_object_set_new(o, "log_bytes",
		    json_integer((json_int_t)logs_bytes(b->log)));
		json_object_set_new(o, "log_dropped",
		    json_integer((json_int_t)logs_dropped(b->log)));
	}
	return o;
}
