'use strict';
/*
 * The load of bench/game-load.sh, against tests/fakes/tgfake and the game
 * bot (bots/game):
 *
 *   node drive.js FAKE_URL METRICS_URL PID
 *
 * Environment: N (updates to send), RATE (scenarios started a second, a
 * Poisson process), PLAYERS, PLAYER0 (ids PLAYER0 + 1 .. PLAYER0 +
 * PLAYERS, each also its private chat), GROUP (the group chat), GLOWING
 * (players 1..GLOWING may /vor), SEED, PG_PID (the postmaster: its
 * children's CPU), CLK_TCK.
 *
 * Players act at random: a scenario picks an idle player and runs one of
 * a weighted mix (a command, a command and its buttons, a chat text in
 * the group). A player does one scenario at a time; a private chat has
 * only its player, and an update in the group that gets an answer holds
 * the group until its first answer, so every answer is matched to its
 * update. End to end latency of an update: from just before the POST
 * that queued it (/_ctl/send or /_ctl/press) to the arrival at the fake
 * of the bot's first call for it (any call with its chat_id, or the
 * answerCallbackQuery of its callback id) -- ms resolution on both sides
 * (the fake's time_ms). Chat texts in the group get no answer: they are
 * counted, and measured only by the bot's histogram.
 *
 * The bot's handler histogram (bot_handler_duration_seconds from
 * METRICS_URL) is read before and after the load; the difference is
 * reported. At the end the bot's memory (/proc/PID/status,
 * smaps_rollup, smaps by mapping) and its CPU and PostgreSQL's during
 * the load. One line of JSON on stdout; 1 on failure.
 *
 * Uses only Node's own fetch; needs no package.
 */

const fs = require('fs');

const [url, metricsUrl, pidArg] = process.argv.slice(2);
const pid = Number(pidArg);
const env = (k, d) => (process.env[k] !== undefined ? Number(process.env[k]) :
    d);
const N = env('N', 5000), RATE = env('RATE', 35);
const PLAYERS = env('PLAYERS', 200), PLAYER0 = env('PLAYER0', 30000);
const GROUP = env('GROUP', -1001234567890), GLOWING = env('GLOWING', 40);
const CLK_TCK = env('CLK_TCK', 100);
const ANSWER_MS = 30000;	/* an answer later than this: a failure */

function fail(msg) {
	process.stderr.write(`drive: ${msg}\n`);
	process.exit(1);
}

if (!url || !metricsUrl || !(pid > 0) || !(N > 0) || !(RATE > 0) ||
    !(PLAYERS > 1))
	fail('usage: drive.js FAKE_URL METRICS_URL PID (N, RATE, PLAYERS...)');

/* A small seeded PRNG (mulberry32): the same mix for the same SEED. */
let seed = env('SEED', 1) >>> 0;
function rnd() {
	seed = (seed + 0x6d2b79f5) >>> 0;
	let t = seed;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function ctl(path, body) {
	const opts = body === undefined ? {} : { method: 'POST',
	    headers: { 'content-type': 'application/json' },
	    body: JSON.stringify(body) };
	const res = await fetch(url + '/_ctl/' + path, opts);
	const j = await res.json();

	if (!j.ok)
		throw new Error(`${path}: ${j.description}`);
	return j;
}

/* ------------------------------------------------------------ /proc */

function statCpuMs(p) {
	const s = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
	const f = s.slice(s.lastIndexOf(')') + 2).split(' ');

	return (Number(f[11]) + Number(f[12])) * 1000 / CLK_TCK;
}

function pgCpuMs() {
	const pm = Number(process.env.PG_PID || 0);
	let total = 0;

	if (!(pm > 0))
		return 0;
	for (const d of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(d))
			continue;
		try {
			const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
			const f = s.slice(s.lastIndexOf(')') + 2).split(' ');

			if (Number(f[1]) === pm || Number(d) === pm)
				total += (Number(f[11]) + Number(f[12])) *
				    1000 / CLK_TCK;
		} catch (e) {
			/* gone meanwhile */
		}
	}
	return total;
}

function kv(file) {
	const o = {};

	for (const l of fs.readFileSync(file, 'utf8').split('\n')) {
		const m = l.match(/^(\w+):\s+(\d+) kB$/);
		if (m)
			o[m[1]] = Number(m[2]);
	}
	return o;
}

/* Rss, Pss and Private_Dirty by mapping (file name, [heap], ...), kB. */
function smapsByName() {
	const by = {};
	let cur = null;

	for (const l of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8')
	    .split('\n')) {
		const h = l.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/);
		if (h) {
			let n = h[1] || '[anon]';
			n = n.replace(/^.*\//, '');
			cur = by[n] || (by[n] = { rss: 0, pss: 0, pd: 0 });
			continue;
		}
		const m = l.match(/^(Rss|Pss|Private_Dirty):\s+(\d+) kB$/);
		if (m && cur) {
			const k = { Rss: 'rss', Pss: 'pss',
			    Private_Dirty: 'pd' }[m[1]];
			cur[k] += Number(m[2]);
		}
	}
	return Object.entries(by).map(([name, v]) => ({ name, ...v }))
	    .sort((a, b) => b.rss - a.rss);
}

/* ------------------------------------------------------------ metrics */

/* The handler histogram: { type: { le: count } } (cumulative). */
async function histogram() {
	const res = await fetch(metricsUrl);
	const text = await res.text();
	const h = {};
	const re = /^bot_handler_duration_seconds_bucket\{(.*)\} (\S+)$/;

	for (const l of text.split('\n')) {
		const m = l.match(re);
		if (!m)
			continue;
		const t = (m[1].match(/type="([^"]*)"/) || [])[1] || '';
		const le = (m[1].match(/le="([^"]*)"/) || [])[1];
		(h[t] || (h[t] = {}))[le] = Number(m[2]);
	}
	return h;
}

/* ------------------------------------------------------------ calls */

/*
 * Every finished call of the bot, in order of sequence number, handed to
 * the waiters: by chat id, or by callback query id. A call still held by
 * the fake (a long poll) keeps the cursor below it; the ones after it
 * that did finish are remembered so that none is handed twice.
 */
const waiters = new Map();	/* key -> waiter */
const cbSeen = new Map();	/* callback query id -> time_ms */
const seen = new Set();
let cursor = 0, stopCalls = false;
const methods = {};

function dispatch(c) {
	const p = c.params || {};
	let w;

	if (c.method === 'getUpdates')
		return;
	methods[c.method] = (methods[c.method] || 0) + 1;
	if (c.status !== 200)
		fail(`${c.method} answered ${c.status}: ${c.error || ''} ` +
		    JSON.stringify(p).slice(0, 200));
	if (p.callback_query_id !== undefined) {
		cbSeen.set(String(p.callback_query_id), c.time_ms);
		w = waiters.get('cb:' + p.callback_query_id);
	}
	if (w === undefined && p.chat_id !== undefined)
		w = waiters.get('chat:' + p.chat_id);
	if (w !== undefined)
		settle(w, c.time_ms);
}

function settle(w, ms) {
	for (const k of w.keys)
		waiters.delete(k);
	clearTimeout(w.timer);
	w.resolve(ms);
}

async function callsLoop() {
	while (!stopCalls) {
		const j = await ctl(`calls?since=${cursor}&pending=1` +
		    '&limit=5000');

		for (const c of j.result) {
			if (seen.has(c.seq))
				continue;
			if (c.state !== 'pending') {
				seen.add(c.seq);
				dispatch(c);
			} else if (c.method === 'getUpdates') {
				seen.add(c.seq);	/* a long poll: skip */
			}
		}
		/* advance over the contiguous handled prefix */
		while (seen.has(cursor + 1)) {
			seen.delete(cursor + 1);
			cursor++;
		}
		/* until a call after these finishes, at most 100 ms */
		await ctl(`calls?since=${j.last_seq}&wait=100&limit=1`);
	}
}

/* A waiter: resolves with the fake's time_ms of the first call for key. */
function expect(key) {
	const w = { keys: [key] };

	w.done = new Promise((resolve, reject) => {
		w.resolve = resolve;
		w.timer = setTimeout(() => {
			for (const k of w.keys)
				waiters.delete(k);
			reject(new Error(`no answer for ${w.keys} in ` +
			    `${ANSWER_MS} ms`));
		}, ANSWER_MS);
	});
	waiters.set(key, w);
	return w;
}

/* Also settle w on a call for key2 (one seen already counts). */
function expectAlso(w, key2, seenMs) {
	if (!w.keys.every((k) => waiters.get(k) === w))
		return;		/* settled */
	if (seenMs !== undefined) {
		settle(w, seenMs);
		return;
	}
	w.keys.push(key2);
	waiters.set(key2, w);
}

function cancel(w) {
	for (const k of w.keys)
		waiters.delete(k);
	clearTimeout(w.timer);
}

/* ------------------------------------------------------------ actions */

const lat = {};		/* kind -> [ms] */
const post = [];	/* ms of each POST that queued an answered update */
const busyUntil = new Map();	/* player -> ms: not before */
let sent = 0, groupTexts = 0, refused = 0;
let groupBusy = Promise.resolve();

function record(kind, ms) {
	(lat[kind] || (lat[kind] = [])).push(ms);
}

const from = (u) => ({ id: u, is_bot: false, first_name: `Игрок${u - PLAYER0}` });
const groupChat = { id: GROUP, type: 'supergroup', title: 'Писюнчики' };

/* The group, one answered update at a time: run fn holding it. */
function withGroup(fn) {
	const p = groupBusy.then(fn, fn);
	groupBusy = p.catch(() => {});
	return p;
}

/* u writes text in its private chat (chat null) or the group. */
async function say(kind, u, text, group) {
	const chat = group ? GROUP : u;
	const body = { text, from: from(u) };

	if (group)
		body.chat = groupChat;
	if (kind === null) {		/* no answer expected */
		sent++;
		await ctl('send', body);
		return;
	}
	const w = expect('chat:' + chat);
	const t0 = Date.now();
	sent++;
	await ctl('send', body);
	post.push(Date.now() - t0);
	record(kind, (await w.done) - t0);
}

/* The bot's last message with a keyboard in chat: { id, data[] }. */
async function keyboard(chat, prefix) {
	for (let i = 0; i < 40; i++) {
		const j = await ctl(`messages?chat_id=${chat}`);
		for (let k = j.result.length - 1; k >= 0; k--) {
			const m = j.result[k];
			const kb = m.reply_markup && m.reply_markup.inline_keyboard;
			if (!kb)
				continue;
			const data = kb.flat().map((b) => b.callback_data)
			    .filter((d) => d && d.startsWith(prefix));
			if (data.length > 0)
				return { id: m.message_id, data };
		}
		await sleep(25);	/* an edit may be on its way */
	}
	return null;
}

/*
 * u presses a button of the bot's last keyboard in chat whose data starts
 * with prefix (choose picks one): the latency to the first call in the
 * chat or the answer of the callback, whichever comes first. false when
 * there is no such keyboard or the fake refused the press.
 */
async function pressWait(kind, u, chat, prefix, choose) {
	const kb = await keyboard(chat, prefix);

	if (kb === null) {
		refused++;
		return false;
	}
	const body = { chat_id: chat, message_id: kb.id,
	    data: choose(kb.data), from: from(u) };
	const w = expect('chat:' + chat);
	const t0 = Date.now();
	sent++;
	const j = await fetch(url + '/_ctl/press', { method: 'POST',
	    headers: { 'content-type': 'application/json' },
	    body: JSON.stringify(body) }).then((r) => r.json());
	if (!j.ok) {
		cancel(w);
		sent--;
		refused++;
		return false;
	}
	post.push(Date.now() - t0);
	const id = String(j.result.callback_query_id);
	expectAlso(w, 'cb:' + id, cbSeen.get(id));
	record(kind, (await w.done) - t0);
	return true;
}

const think = () => sleep(300 + rnd() * 1200);
const phrases = ['привет', 'как дела', 'кто ты', 'скажи что-нибудь',
    'ты живой', 'спасибо', 'расскажи что ты можешь', 'что ты думаешь?'];
const chatter = ['ну что, кто сегодня вырос?', 'ахахах', 'го в казик',
    'у меня опять минус', 'кто украл мои сантиметры', 'ладно, спать',
    'акции ATB растут?', 'лол', '+', 'доброе утро всем 👋'];

/* The mix: weight, name, scenario(u). Private unless said otherwise. */
const mix = [
	[14, 'pisunchik', (u) => say('/pisunchik', u, '/pisunchik')],
	[6, 'kazik', async (u) => {
		await say('/kazik', u, '/kazik');
		/* the dice roll, then are deleted: watch, and keep out */
		busyUntil.set(u, Date.now() + 8000);
	}],
	[9, 'roll', async (u) => {
		await say('/roll', u, '/roll');
		if (rnd() < 0.8) {
			await think();
			await pressWait('roll_N (button)', u, u, 'roll_',
			    (d) => pick(d.slice(0, 3)));
		}
	}],
	[6, 'shop', async (u) => {
		await say('/shop', u, '/shop');
		await think();
		if (await pressWait('shop_buy_X (button)', u, u, 'shop_buy_',
		    pick)) {
			await think();
			await pressWait('buy_confirm/cancel (button)', u, u,
			    'buy_', (d) => (rnd() < 0.7 ? d[0] : d[d.length - 1]));
		}
	}],
	[6, 'items', (u) => say('/items', u, '/items')],
	[4, 'my_stocks', (u) => say('/my_stocks', u, '/my_stocks')],
	[4, 'current_stocks', (u) => say('/current_stocks', u,
	    '/current_stocks')],
	[4, 'leaderboard', (u) => say('/leaderboard', u, '/leaderboard')],
	[2, 'characteristics', (u) => say('/characteristics', u,
	    '/characteristics')],
	[2, 'statuetki', (u) => say('/statuetki', u, '/statuetki')],
	[2, 'help', (u) => say('/help', u, '/help')],
	[2, 'anekdot', (u) => say('/anekdot', u, '/anekdot')],
	[22, 'group chat text', (u) => {
		groupTexts++;
		return say(null, u, pick(chatter), true);
	}],
	[5, 'group Бот,', (u) => withGroup(() => say('Бот, ... (group)', u,
	    'Бот, ' + pick(phrases), true))],
	[2, 'group leaderboard', (u) => withGroup(() =>
	    say('/leaderboard (group)', u, '/leaderboard', true))],
	[4, 'group vor', async (u) => {
		await withGroup(() => say('/vor (group)', u, '/vor', true));
		if (u - PLAYER0 > GLOWING)
			return;
		await think();
		await withGroup(() => pressWait('vor_ (button, group)', u,
		    GROUP, `vor_`, (d) => pick(d)));
	}],
];
const totalWeight = mix.reduce((s, m) => s + m[0], 0);

function pickScenario() {
	let r = rnd() * totalWeight;

	for (const m of mix) {
		if ((r -= m[0]) < 0)
			return m;
	}
	return mix[mix.length - 1];
}

/* ------------------------------------------------------------ run */

async function main() {
	const busy = new Set(), running = new Set();
	const counts = {};

	/* The bot polls? */
	for (let i = 0; ; i++) {
		const j = await ctl('calls?method=getUpdates&pending=1&limit=1');
		if (j.result.length > 0)
			break;
		if (i > 600)
			fail('the bot does not poll');
		await sleep(50);
	}
	const loop = callsLoop().catch((e) => fail(`calls: ${e.message}`));
	const h0 = await histogram();
	const cpu0 = statCpuMs(pid), pg0 = pgCpuMs(), w0 = Date.now();
	let next = w0;

	while (sent < N) {
		next += -Math.log(1 - rnd()) * 1000 / RATE;
		const d = next - Date.now();
		if (d > 0)
			await sleep(d);
		const idle = [], now = Date.now();
		for (let u = PLAYER0 + 1; u <= PLAYER0 + PLAYERS; u++)
			if (!busy.has(u) && !(busyUntil.get(u) > now))
				idle.push(u);
		if (idle.length === 0)
			continue;
		const u = pick(idle), m = pickScenario();
		counts[m[1]] = (counts[m[1]] || 0) + 1;
		busy.add(u);
		const p = m[2](u).catch((e) => fail(`${m[1]} by ${u}: ` +
		    e.message)).finally(() => {
			busy.delete(u);
			running.delete(p);
		});
		running.add(p);
	}
	await Promise.all([...running]);
	const w1 = Date.now();
	/* The answers to the chat texts: none; let the bot finish them. */
	await sleep(500);
	const cpu1 = statCpuMs(pid), pg1 = pgCpuMs();
	const h1 = await histogram();
	stopCalls = true;
	await loop;

	const st = kv(`/proc/${pid}/status`);
	const roll = kv(`/proc/${pid}/smaps_rollup`);
	const hist = {};
	for (const t of Object.keys(h1)) {
		hist[t] = {};
		for (const le of Object.keys(h1[t]))
			hist[t][le] = h1[t][le] - ((h0[t] || {})[le] || 0);
	}
	process.stdout.write(JSON.stringify({
		sent, secs: (w1 - w0) / 1000, counts, groupTexts, refused,
		lat, post, hist, methods,
		cpu_ms: cpu1 - cpu0, pg_cpu_ms: pg1 - pg0,
		mem: { hwm: st.VmHWM, rss: st.VmRSS, anon: st.RssAnon,
		    file: st.RssFile, pss: roll.Pss, pss_anon: roll.Pss_Anon,
		    pss_file: roll.Pss_File, pd: roll.Private_Dirty },
		maps: smapsByName(),
	}) + '\n');
}

main().catch((e) => fail(e.stack || e.message));
