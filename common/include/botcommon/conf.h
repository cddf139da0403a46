/*
 * INI configuration files: <bot>.ini for the bots, botd.ini for the
 * supervisor. Parsed with inih into memory, every key with its file and
 * line, then read through typed getters with defaults.
 *
 *   [telegram]
 *   token_file = /etc/botfleet/secrets/game.token
 *   timeout = 90s            ; inline comments start with " ;" or " #"
 *   admins = ${GAME_ADMINS:-1234, 5678}
 *
 * Syntax: "[section]" headers (the name is trimmed and case-sensitive, at
 * most 49 bytes, defined once across all loaded files) and "key = value"
 * lines (key: letters, digits, '_', '-', '.'; defined once per section).
 * Lines starting with ';' or '#' are comments; no continuation lines; at
 * most 4096 bytes a line, 1 MiB a file. A key outside any section is an
 * error.
 *
 * Values are expanded at load time: ${NAME} is the environment variable
 * NAME (an error when it is not set), ${NAME:-default} uses the default
 * when NAME is unset or empty (the default is expanded too), $$ is a
 * literal '$', and any other '$' stays as it is.
 *
 * Every error is one line, "FILE:LINE: reason", and for values
 * "FILE:LINE: [section] key: reason". The library only reports; programs
 * turn a config error into exit code 100 (BC_EXIT_PERM).
 *
 * Not thread-safe: inih is configured through process-wide variables at
 * each load, so load and include from one thread.
 */
#ifndef BOTCOMMON_CONF_H
#define BOTCOMMON_CONF_H

#include <stddef.h>
#include <stdint.h>

struct bc_conf;

/*
 * Load the file at path. Returns a conf the caller frees with
 * bc_conf_free(), or NULL with *cause ("FILE:LINE: reason", caller frees).
 */
struct bc_conf *bc_conf_load(const char *path, char **cause);

/*
 * Load from a NUL-terminated string; name stands for the file name in
 * messages. Relative paths in it (include, secrets) are taken from the
 * working directory. Same ownership as bc_conf_load().
 */
struct bc_conf *bc_conf_load_string(const char *name, const char *text,
	    char **cause);

/* Free a conf and everything borrowed from it. NULL is a no-op. */
void	bc_conf_free(struct bc_conf *);

/* The path or name given at load. Borrowed, valid until bc_conf_free(). */
const char *bc_conf_path(const struct bc_conf *);

/*
 * Merge the files matching a glob pattern, in strcmp order. A relative
 * pattern is taken from the directory of the loaded file. No match (or a
 * missing directory) is not an error. A section already defined, here or
 * in the files before, is an error naming both places. On error nothing
 * is merged: returns -1 with *cause (caller frees). Returns 0 on success.
 */
int	bc_conf_include(struct bc_conf *, const char *pattern, char **cause);

/*
 * Sections in file order (included files after the first): their number,
 * and the name of the i-th (the trimmed text between the brackets, e.g.
 * "bot game"). The name is borrowed; NULL when i is out of range.
 */
size_t	bc_conf_nsections(const struct bc_conf *);
const char *bc_conf_section(const struct bc_conf *, size_t i);
int	bc_conf_has_section(const struct bc_conf *, const char *section);

/*
 * 1 when section has exactly the same keys with the same (expanded)
 * values in both confs, in any order, or is absent from both; else 0.
 */
int	bc_conf_section_equal(const struct bc_conf *, const struct bc_conf *,
	    const char *section);

/*
 * Keys of a section in file order: their number (0 for a missing section)
 * and the i-th name with its value in *value. Marks the key as used.
 * Borrowed strings; NULL when out of range.
 */
size_t	bc_conf_nkeys(const struct bc_conf *, const char *sec);
const char *bc_conf_key(struct bc_conf *, const char *sec, size_t i,
	    const char **value);

/*
 * Typed getters. A missing key (or section) stores the default in *out
 * and returns 0. A present key is parsed: 0 with *out set, or -1 with
 * *out unchanged and *cause = "FILE:LINE: [sec] key: reason" (caller
 * frees; cause may be NULL). Every getter marks the key as used.
 */

/* The value as it is. *out is borrowed from the conf (or is def). */
int	bc_conf_str(struct bc_conf *, const char *sec, const char *key,
	    const char *def, const char **out, char **cause);

/* A decimal integer, optionally signed, within [min, max]. */
int	bc_conf_int(struct bc_conf *, const char *sec, const char *key,
	    long long def, long long min, long long max, long long *out,
	    char **cause);

/* yes/no, true/false, on/off, 1/0, any case. */
int	bc_conf_bool(struct bc_conf *, const char *sec, const char *key,
	    int def, int *out, char **cause);

/*
 * A duration in milliseconds: groups of digits and a unit, d h m s ms,
 * largest unit first ("250ms", "90s", "5m", "1h30m", "2d"), or a bare
 * number of seconds ("90"). Negative, fractional and overflowing values
 * are errors.
 */
int	bc_conf_duration(struct bc_conf *, const char *sec, const char *key,
	    int64_t def_ms, int64_t *out_ms, char **cause);

/*
 * A size in bytes: digits, optional spaces, then nothing or B, or K M G T
 * (powers of 1024) alone or followed by B or iB, any case ("512", "10M",
 * "10 MiB", "1kb"). Negative, fractional and overflowing values are errors.
 */
int	bc_conf_size(struct bc_conf *, const char *sec, const char *key,
	    uint64_t def, uint64_t *out, char **cause);

/*
 * A path: relative ones are taken from the directory of the file that set
 * the key (def from the main file's). *out is allocated (caller frees),
 * NULL when the key is absent and def is NULL. 0, or -1 with *cause for an
 * empty value.
 */
int	bc_conf_file(struct bc_conf *, const char *sec, const char *key,
	    const char *def, char **out, char **cause);

/*
 * A comma-separated list: items trimmed, empty items dropped. *out is an
 * array of *n strings the caller frees with bc_conf_list_free(); NULL with
 * *n = 0 when the key is missing or holds no item. Returns 0.
 */
int	bc_conf_list(struct bc_conf *, const char *sec, const char *key,
	    char ***out, size_t *n, char **cause);
void	bc_conf_list_free(char **, size_t);

/*
 * A secret read from a file. The value of key in sec is the file's path
 * (relative to the directory of the file that set it). When the key is
 * absent, credname is not NULL and $CREDENTIALS_DIRECTORY is set, the file
 * $CREDENTIALS_DIRECTORY/credname is read instead (systemd credentials;
 * a missing one counts as absent). The file must be a regular file, and,
 * except under $CREDENTIALS_DIRECTORY, neither readable nor writable by
 * group or others. At most 64 KiB; one trailing newline (\n or \r\n) is
 * stripped; an empty secret or one holding a NUL byte is an error.
 *
 * Returns 0 with *out set (caller frees with bc_conf_secret_free()), 1
 * when absent and not required (*out = NULL), or -1 with *cause (caller
 * frees) on any error, absence included when required is non-zero.
 */
int	bc_conf_secret(struct bc_conf *, const char *sec, const char *key,
	    const char *credname, int required, char **out, char **cause);

/* Overwrite a secret with zeros, then free it. NULL is a no-op. */
void	bc_conf_secret_free(char *);

/*
 * After all getters ran: -1 with *cause = "FILE:LINE: [sec] unknown key
 * 'x'" for the first key (in file order) no getter read, in all sections
 * or in one; 0 when every key was read (or the section is absent).
 */
int	bc_conf_check_unused(struct bc_conf *, char **cause);
int	bc_conf_check_unused_section(struct bc_conf *, const char *sec,
	    char **cause);

/*
 * Check section names against known, a NULL-terminated list: an entry
 * ending in a space ("bot ") matches names starting with it and having
 * more after it ("bot game"); any other entry matches exactly. Returns 0,
 * or -1 with *cause = "FILE:LINE: unknown section [x]" for the first other.
 */
int	bc_conf_unknown_sections(const struct bc_conf *,
	    const char *const *known, char **cause);

#endif /* BOTCOMMON_CONF_H */
