/* Listening and the port file of the fake servers (serve.h). */

#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include <botcommon/log.h>
#include <botcommon/xmalloc.h>

#include "serve.h"

int
fake_listen(struct evhttp *http, const char *spec)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char *host, *colon, *end;
	long port;
	int ret = -1;

	host = xstrdup(spec);
	if ((colon = strrchr(host, ':')) == NULL) {
		log_warnx("bad listen address '%s' (want HOST:PORT)", spec);
		goto fail;
	}
	*colon = '\0';
	port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || port < 0 || port > 65535) {
		log_warnx("bad port in '%s'", spec);
		goto fail;
	}
	if ((bs = evhttp_bind_socket_with_handle(http, host,
	    (uint16_t)port)) == NULL) {
		log_warn("cannot listen on '%s'", spec);
		goto fail;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&ss, &sl) == -1) {
		log_warn("getsockname");
		goto fail;
	}
	if (ss.ss_family == AF_INET)
		ret = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else
		ret = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	printf("listening %s:%d\n", host, ret);
	fflush(stdout);
fail:
	free(host);
	return ret;
}

int
fake_write_portfile(const char *path, int port)
{
	char *tmp;
	FILE *f;
	int ret = -1;

	xasprintf(&tmp, "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL) {
		log_warn("cannot write '%s'", tmp);
		goto fail;
	}
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0 || rename(tmp, path) == -1) {
		log_warn("cannot write '%s'", path);
		goto fail;
	}
	ret = 0;
fail:
	free(tmp);
	return ret;
}
