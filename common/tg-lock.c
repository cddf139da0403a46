/*
 * One process per bot token on this machine: an flock(2) on a file named
 * after a hash of the token.
 */

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <botcommon/crypto.h>
#include <botcommon/tg.h>
#include <botcommon/xmalloc.h>

#define TG_LOCK_RUNDIR	"/run/botfleet"
#define TG_LOCK_HASHLEN	16

/* The directory for lock files when the caller gives none. Caller frees. */
static char *
lock_dir(void)
{
	const char *e;
	size_t n;

	if ((e = getenv("RUNTIME_DIRECTORY")) != NULL && *e != '\0') {
		n = strcspn(e, ":");
		return xstrndup(e, n);
	}
	if (access(TG_LOCK_RUNDIR, W_OK) == 0)
		return xstrdup(TG_LOCK_RUNDIR);
	if ((e = getenv("TMPDIR")) != NULL && *e != '\0')
		return xstrdup(e);
	return xstrdup("/tmp");
}

/* The public bot id: the token's digits before ':' (at most 20). */
static void
bot_id(const char *token, char *out, size_t outsz)
{
	size_t n = 0;

	while (token[n] >= '0' && token[n] <= '9' && n + 1 < outsz && n < 20)
		n++;
	if (token[n] != ':' || n == 0) {
		snprintf(out, outsz, "?");
		return;
	}
	memcpy(out, token, n);
	out[n] = '\0';
}

/* The pid written in the lock file, or 0. */
static long
lock_owner(int fd)
{
	char buf[32];
	ssize_t n;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

int
bc_tg_lock_instance(const char *token, const char *dir, char **cause)
{
	char hex[BC_SHA256_HEXLEN], id[24], pid[32], *d = NULL, *path = NULL;
	int fd = -1, n;

	if (token == NULL || *token == '\0') {
		*cause = xstrdup("no bot token to lock");
		return -1;
	}
	bc_sha256_hex(token, strlen(token), hex);
	hex[TG_LOCK_HASHLEN] = '\0';
	bot_id(token, id, sizeof(id));
	d = dir != NULL ? xstrdup(dir) : lock_dir();
	xasprintf(&path, "%s/tg-%s.lock", d, hex);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		xasprintf(cause, "cannot open lock file %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			xasprintf(cause, "another instance of bot %s is "
			    "already running (pid %ld)", id, lock_owner(fd));
		else
			xasprintf(cause, "cannot lock %s: %s", path,
			    strerror(errno));
		goto fail;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, (size_t)n, 0) != n) {
		xasprintf(cause, "cannot write lock file %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	free(path);
	free(d);
	return fd;
fail:
	if (fd != -1)
		close(fd);
	free(path);
	free(d);
	return -1;
}
