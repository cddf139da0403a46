'use strict';
/*
 * The grammY counterpart of tests/example/echobot.c, for
 * bench/tg-throughput.sh. Long polling with plain bot.start() (updates
 * handled one after the other, grammY's default), every text answered with
 * "echo N: TEXT", N being how many messages that user has sent.
 *
 *   BENCH_TOKEN   the bot token
 *   BENCH_API     the Bot API root, e.g. http://127.0.0.1:PORT
 *   BENCH_MODE    memory     the counter in a Map; no database (grammY's
 *                            natural form)
 *                 pg         per update, in one transaction: record the
 *                            update id in processed_updates (a duplicate is
 *                            skipped), upsert the counter, insert the
 *                            echo_log row; reply after the commit
 *                 pg-outbox  the same, plus what our router does for
 *                            exactly-once replies: the reply is written to
 *                            tg_outbox in the transaction and the row is
 *                            deleted once Telegram accepted it
 *   PGHOST, PGPORT, PGUSER, PGDATABASE   the database (pg modes; read by
 *                            the pg package itself)
 *
 * The tables are those of the C bot (sql/010_runtime.sql and echobot.c's
 * echo_counts and echo_log), created by the benchmark script.
 */

const { Bot } = require('grammy');

const BOT = 'grammy';
const ECHO_SQL = 'WITH c AS (INSERT INTO echo_counts (user_id, n) ' +
    'VALUES ($1, 1) ON CONFLICT (user_id) DO UPDATE SET ' +
    'n = echo_counts.n + 1 RETURNING n), l AS (INSERT INTO echo_log ' +
    '(update_id, user_id, chat_id, text) VALUES ($3, $1, $2, $4)) ' +
    'SELECT n FROM c';

function die(msg) {
	process.stderr.write(`grammy-bot: ${msg}\n`);
	process.exit(100);
}

const token = process.env.BENCH_TOKEN;
const apiRoot = process.env.BENCH_API;
const mode = process.env.BENCH_MODE || 'memory';
if (!token || !apiRoot)
	die('BENCH_TOKEN and BENCH_API are required');
if (!['memory', 'pg', 'pg-outbox'].includes(mode))
	die(`BENCH_MODE '${mode}' is not memory, pg or pg-outbox`);

const bot = new Bot(token, { client: { apiRoot } });
let db = null;

/* Memory: a Map from user id to count. */
function memoryHandler() {
	const counts = new Map();

	return async (ctx) => {
		const n = (counts.get(ctx.from.id) || 0) + 1;

		counts.set(ctx.from.id, n);
		await ctx.reply(`echo ${n}: ${ctx.message.text}`);
	};
}

/*
 * One transaction per update; the reply (and its outbox row) only when
 * the update was not processed before. Returns [reply, outbox id] or null
 * for a duplicate.
 */
async function record(ctx, outbox) {
	const text = ctx.message.text;
	const uid = ctx.from.id, chat = ctx.chat.id;
	const upd = ctx.update.update_id;
	let reply, id = null, r;

	await db.query('BEGIN');
	try {
		r = await db.query('INSERT INTO processed_updates (bot, ' +
		    'update_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
		    [BOT, upd]);
		if (r.rowCount === 0) {
			await db.query('ROLLBACK');
			return null;
		}
		r = await db.query(ECHO_SQL, [uid, chat, upd, text]);
		reply = `echo ${r.rows[0].n}: ${text}`;
		if (outbox) {
			r = await db.query('INSERT INTO tg_outbox (bot, ' +
			    'method, params) VALUES ($1, $2, $3::jsonb) ' +
			    'RETURNING id', [BOT, 'sendMessage',
			    JSON.stringify({ chat_id: chat, text: reply })]);
			id = r.rows[0].id;
		}
		await db.query('COMMIT');
	} catch (e) {
		await db.query('ROLLBACK').catch(() => {});
		throw e;
	}
	return [reply, id];
}

function pgHandler(outbox) {
	return async (ctx) => {
		const done = await record(ctx, outbox);

		if (done === null)
			return;
		await ctx.reply(done[0]);
		if (outbox)
			await db.query('DELETE FROM tg_outbox WHERE bot = $1 ' +
			    'AND id = $2', [BOT, done[1]]);
	};
}

async function main() {
	if (mode !== 'memory') {
		const pg = require('pg');

		db = new pg.Client();
		await db.connect();
	}
	bot.on('message:text', mode === 'memory' ? memoryHandler() :
	    pgHandler(mode === 'pg-outbox'));
	bot.catch((err) => {
		process.stderr.write(`grammy-bot: ${err.error || err}\n`);
	});
	const stop = () => {
		bot.stop().then(() => db !== null ? db.end() : null)
		    .then(() => process.exit(0), () => process.exit(1));
	};
	process.once('SIGTERM', stop);
	process.once('SIGINT', stop);
	await bot.start();
}

main().catch((e) => {
	process.stderr.write(`grammy-bot: ${e.stack || e}\n`);
	process.exit(111);
});
