/*
 * What the fake servers (tgfake, pricefake) share: binding their evhttp
 * to HOST:PORT and telling the port to whoever started them.
 */
#ifndef FAKES_SERVE_H
#define FAKES_SERVE_H

struct evhttp;

/*
 * Bind http to spec, "HOST:PORT" (port 0: any free one; an IPv6 host
 * without brackets, as evhttp takes it). Prints "listening HOST:PORT" on
 * stdout. The port bound, or -1 (logged).
 */
int	fake_listen(struct evhttp *http, const char *spec);

/* Write port to path atomically (a reader never sees half a number). 0,
 * or -1 (logged). */
int	fake_write_portfile(const char *path, int port);

#endif /* FAKES_SERVE_H */
