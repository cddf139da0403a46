/*
 * The control protocol between botd and its clients (botctl, and any bot
 * that asks botd for something): newline-delimited JSON over a UNIX
 * stream socket.
 *
 *   -> {"v":1,"cmd":"status","bots":["game"]}
 *   <- {"v":1,"ok":true,"bots":[{"name":"game","state":"RUNNING",...}]}
 *   <- {"v":1,"ok":false,"error":"unknown bot: nosuch"}
 *
 * Every request gets exactly one reply, in order. A request that asked to
 * follow something (logs -f) is then followed by event messages, which
 * have an "event" member and no "ok": {"v":1,"event":"log","bot":"game",
 * "line":"..."}. One line, the newline excluded, is at most
 * BC_CTL_LINE_MAX bytes in either direction; a longer one is an error
 * and is discarded up to its newline. Bump BC_CTL_VERSION when a message
 * changes incompatibly: a peer speaking another version gets an error.
 *
 * This module does the framing (an incremental line reader with a cap),
 * builds and checks messages, and offers small blocking helpers for
 * clients (connect, send, receive with deadlines). It never logs.
 */
#ifndef BOTCOMMON_CTL_H
#define BOTCOMMON_CTL_H

#include <sys/types.h>

#include <stddef.h>

#include <jansson.h>

#define BC_CTL_VERSION		1
#define BC_CTL_LINE_MAX		(64 * 1024)	/* bytes, newline excluded */
#define BC_CTL_NAME_MAX		32		/* a bot name: [a-z0-9_-] */
#define BC_CTL_CMD_MAX		32		/* a command: [a-z0-9-] */
#define BC_CTL_BOTS_MAX		1024		/* names in one "bots" */
#define BC_CTL_SOCKET_ENV	"BOTD_SOCKET"
#define BC_CTL_SOCKET_DEFAULT	"/run/botd/control.sock"

/*
 * The incremental line reader: a value struct over one buffer of at most
 * max + 1 bytes, so a peer can never make it grow further. Feed it bytes
 * (bc_ctl_reader_feed or bc_ctl_reader_read), then take events with
 * bc_ctl_reader_next until it returns BC_CTL_AGAIN.
 */
struct bc_ctl_reader {
	char	*buf;		/* owned; allocated on the first feed */
	size_t	 max;		/* longest line accepted */
	size_t	 start;		/* unconsumed bytes are buf[start, end) */
	size_t	 end;
	size_t	 scanned;	/* bytes after start known to hold no '\n' */
	int	 discard;	/* dropping an oversize line up to '\n' */
};

#define BC_CTL_READER_ZERO	{ NULL, BC_CTL_LINE_MAX, 0, 0, 0, 0 }

enum bc_ctl_event {
	BC_CTL_AGAIN = 0,	/* no complete line: feed more bytes */
	BC_CTL_LINE,		/* a complete line */
	BC_CTL_OVERSIZE,	/* a line passed max: reply with an error */
};

/* Start empty, accepting lines of up to max bytes (0: BC_CTL_LINE_MAX). */
void	bc_ctl_reader_init(struct bc_ctl_reader *, size_t max);

/* Free the buffer; the reader is empty again (same max). */
void	bc_ctl_reader_release(struct bc_ctl_reader *);

/*
 * Take up to len bytes from data; returns how many were taken (buffered,
 * or dropped as part of an oversize line). Fewer than len are taken only
 * when the buffer is full: call bc_ctl_reader_next until BC_CTL_AGAIN,
 * which always makes room, then feed the rest.
 */
size_t	bc_ctl_reader_feed(struct bc_ctl_reader *, const void *data,
	    size_t len);

/*
 * read(2) from fd straight into the buffer's free space. Returns what
 * read(2) returned (0 at end of file; -1 with errno, EAGAIN included).
 * Call bc_ctl_reader_next until BC_CTL_AGAIN before reading again.
 */
ssize_t	bc_ctl_reader_read(struct bc_ctl_reader *, int fd);

/*
 * The next event. BC_CTL_LINE sets *line to the line, NUL-terminated,
 * without its newline, and *len to its length (it may contain NUL
 * bytes): borrowed, valid until the next call on the reader.
 * BC_CTL_OVERSIZE is returned once per line longer than max, as soon as
 * that is known; the line's bytes are dropped up to and including its
 * newline. BC_CTL_AGAIN: nothing complete is buffered.
 */
enum bc_ctl_event bc_ctl_reader_next(struct bc_ctl_reader *, char **line,
	    size_t *len);

/* Bytes of an unfinished line buffered (a truncated message at EOF). */
size_t	bc_ctl_reader_pending(const struct bc_ctl_reader *);

/*
 * Messages. Builders return a new reference the caller releases with
 * json_decref(); they abort on OOM, like xmalloc.
 */

/* {"v":1,"cmd":cmd}; cmd must satisfy bc_ctl_cmd_valid. */
json_t	*bc_ctl_request_new(const char *cmd);

/* {"v":1,"ok":true}. */
json_t	*bc_ctl_reply_ok(void);

/* {"v":1,"ok":false,"error":"<formatted text>"}; invalid UTF-8 in the
 * text is replaced, so any text can be passed. */
json_t	*bc_ctl_reply_error(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* {"v":1,"event":event}. */
json_t	*bc_ctl_event_new(const char *event);

/*
 * A JSON string from len bytes of untrusted text: invalid UTF-8 and NUL
 * bytes become U+FFFD. New reference.
 */
json_t	*bc_ctl_string(const char *s, size_t len);

/*
 * One message as a line: compact JSON and a final newline, NUL-terminated.
 * Returns a string the caller frees and its length (newline included) in
 * *len (if len is not NULL), or NULL with *cause when the line would be
 * longer than BC_CTL_LINE_MAX.
 */
char	*bc_ctl_encode(const json_t *msg, size_t *len, char **cause);

/*
 * Parse and check a request line (len bytes, as from the reader): a JSON
 * object with "v" equal to BC_CTL_VERSION, a "cmd" that satisfies
 * bc_ctl_cmd_valid, and if present "bots" an array of at most
 * BC_CTL_BOTS_MAX valid bot names. Other members are left to the
 * command. Returns a new reference and sets *cmd (borrowed from it), or
 * NULL with *cause, a message fit for an error reply.
 */
json_t	*bc_ctl_request_parse(const char *line, size_t len, const char **cmd,
	    char **cause);

/*
 * Parse and check a line from botd: an object with "v" equal to
 * BC_CTL_VERSION and either "ok" (a boolean; false needs a string
 * "error") or "event" (a string). Returns a new reference, or NULL with
 * *cause.
 */
json_t	*bc_ctl_reply_parse(const char *line, size_t len, char **cause);

/*
 * For a parsed reply: 0 if it is {"ok":true}; -1 with *cause (its error
 * text, or why it is not a reply) otherwise.
 */
int	bc_ctl_reply_status(const json_t *reply, char **cause);

/* 1 if s is a valid bot name: 1 to BC_CTL_NAME_MAX of [a-z0-9_-], not
 * starting with '-'; else 0. */
int	bc_ctl_name_valid(const char *s);

/* 1 if s is a valid command name: 1 to BC_CTL_CMD_MAX of [a-z0-9-],
 * starting with a letter; else 0. */
int	bc_ctl_cmd_valid(const char *s);

/*
 * Clients. The socket path: $BOTD_SOCKET when set and not empty, else
 * BC_CTL_SOCKET_DEFAULT. Borrowed.
 */
const char *bc_ctl_socket_path(void);

/*
 * Connect to botd's socket at path (NULL: bc_ctl_socket_path()). Returns
 * a non-blocking close-on-exec fd the caller closes, or -1 with errno set
 * and *cause ("cannot connect to PATH: REASON (is botd running?)").
 */
int	bc_ctl_connect(const char *path, char **cause);

/*
 * Send one message on fd (non-blocking), waiting at most timeout_ms
 * (negative: no limit) for the socket to take it all. 0, or -1 with
 * *cause. Never raises SIGPIPE (MSG_NOSIGNAL).
 */
int	bc_ctl_send(int fd, const json_t *msg, int timeout_ms, char **cause);

/*
 * Receive the next message on fd into reader r (the caller's, kept across
 * calls since bytes of the next message may already be buffered),
 * waiting at most timeout_ms (negative: no limit). Returns a checked
 * message (bc_ctl_reply_parse), a new reference, or NULL with *cause:
 * timeout, connection closed, oversize or malformed line.
 */
json_t	*bc_ctl_recv(int fd, struct bc_ctl_reader *r, int timeout_ms,
	    char **cause);

/*
 * One request, one reply: connect to path (NULL: the default), send req,
 * receive the reply, close. Returns the reply (a new reference, "ok"
 * either way; also an error botd sent before closing a connection it
 * refused), or NULL with *cause when botd could not be asked.
 */
json_t	*bc_ctl_call(const char *path, const json_t *req, int timeout_ms,
	    char **cause);

#endif /* BOTCOMMON_CTL_H */
