/*
 * child.c: the trivial supervised child of bench/supervisors.sh. It
 * appends "PID MONOTONIC_NS\n" to its record file, then pause()s until a
 * signal ends it (no handlers: TERM, INT, HUP and KILL all kill it).
 *
 *	child FILE	records to FILE
 *	run ...		(argv[0] named "run") records to ./starts: runit
 *			and s6 run it as ./run, a symlink, in the service
 *			directory (s6 passes the service name as argv[1]);
 *			with a ./notification-fd file (s6 readiness), it
 *			also writes its newline to that fd: ready at once
 *
 * CLOCK_MONOTONIC is one clock for every process of the machine, so the
 * probe compares it with its own readings.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* s6's readiness protocol: a newline on the fd named in notification-fd. */
static void
notify_s6(void)
{
	FILE *f;
	int nfd;

	if ((f = fopen("notification-fd", "r")) == NULL)
		return;
	if (fscanf(f, "%d", &nfd) == 1 && nfd > 2) {
		if (write(nfd, "\n", 1) != 1)
			perror("notification-fd");
		close(nfd);
	}
	fclose(f);
}

int
main(int argc, char **argv)
{
	struct timespec ts;
	const char *path, *base;
	char buf[64];
	int fd, n, as_run;

	base = strrchr(argv[0], '/');
	base = base != NULL ? base + 1 : argv[0];
	as_run = strcmp(base, "run") == 0 || argc < 2;
	path = as_run ? "starts" : argv[1];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(buf, sizeof buf, "%ld %lld\n", (long)getpid(),
	    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1 || write(fd, buf, (size_t)n) != n) {
		perror(path);
		return 1;
	}
	close(fd);
	if (as_run)
		notify_s6();
	for (;;)
		pause();
}
