/*
 * love: the day-by-day gift bot. Private header: configuration, the
 * reasons and quiz files, the message catalogue.
 */
#ifndef LOVE_H
#define LOVE_H

#include <stddef.h>
#include <stdint.h>

#define LOVE_REASONS_MAX	1000	/* lines */
#define LOVE_LINE_MAX		1000	/* bytes a reason or quiz text */
#define LOVE_QUIZ_MAX		50	/* questions */
#define LOVE_OPTS_MAX		4	/* options a question: a b c d */

struct love_question {
	char		*text;
	char		*opts[LOVE_OPTS_MAX];
	int		 nopts;
	int		 answer;	/* index into opts */
};

struct love {
	const char	*start_date;	/* YYYY-MM-DD, day 0; borrowed */
	const char	*together_since; /* for /count; borrowed */
	const char	*tz;		/* IANA zone; borrowed */
	const char	*invite_url;	/* may be NULL; borrowed */
	const char	*now_file;	/* tests only; may be NULL */
	int64_t		 recipient;
	int64_t		 author;
	char		**reasons;	/* owned */
	size_t		 nreasons;
	struct love_question *quiz;	/* owned */
	size_t		 nquiz;
};

/* data.c */
int	 love_reasons_load(struct love *, const char *path, char **cause);
int	 love_quiz_load(struct love *, const char *path, char **cause);
void	 love_data_free(struct love *);

/* texts.c: the message catalogue (Russian, as the original). */
struct love_texts {
	const char	*start;
	const char	*commands_head;
	const char	*commands_more;
	const char	*commands_none;
	const char	*invite_hint;
	const char	*hundred_tomorrow;
	const char	*count;
	const char	*count_before;
	const char	*count_congrats;
	const char	*locked;
	const char	*stranger;
	const char	*reasons_ask;
	const char	*reasons_ten;
	const char	*reasons_all;
	const char	*reasons_thanks;
	const char	*trivia_done;
	const char	*trivia_right;
	const char	*trivia_wrong;
	const char	*trivia_stale;
	const char	*trivia_use_buttons;
	const char	*answers_head;
	const char	*invite_sent;
	const char	*invite_author;
	const char	*used;
	const char	*unknown;
	const char	*error;
	const char	*wait;
	const char	*cancelled;
	const char	*nothing_to_cancel;
	const char	*desc_count;
	const char	*desc_reasons;
	const char	*desc_trivia;
	const char	*desc_answers;
	const char	*desc_invite;
};
extern const struct love_texts love_texts;

#endif /* LOVE_H */
