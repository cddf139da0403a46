'use strict';
/*
 * One measurement for bench/tg-throughput.sh, against tests/fakes/tgfake:
 *
 *   node drive.js URL PID N USERS BATCH
 *
 * Waits until the bot (process PID) is polling (its first getUpdates shows
 * in /_ctl/calls, pending or not), queues N text messages from USERS users
 * through POST /_ctl/send (BATCH texts a call, round robin over the users,
 * 8 calls at a time; user u's k-th message is "hello k"), and times from
 * the first queueing call to the moment the fake has answered N
 * sendMessage calls. Then it checks every reply ("echo k: hello k" exactly
 * once per user and k, all 200) and reads the bot's /proc: CPU time (utime
 * + stime) spent during the timed window and VmHWM, and the CPU of the
 * PostgreSQL server in the same window (environment PG_PID: the
 * postmaster). Prints one line of JSON on stdout; exits 1 when the bot did
 * not finish or answered wrongly.
 *
 * Uses only Node's own fetch; needs no package.
 */

const fs = require('fs');

const [url, pidArg, nArg, usersArg, batchArg] = process.argv.slice(2);
const pid = Number(pidArg), N = Number(nArg), USERS = Number(usersArg);
const BATCH = Number(batchArg);
const CLK_TCK = Number(process.env.CLK_TCK || 100);
const READY_MS = 30000, DONE_MS = 600000, PARALLEL = 8;
const USER0 = 20000;	/* user ids USER0 + 1 .. USER0 + USERS */

function fail(msg) {
	process.stderr.write(`drive: ${msg}\n`);
	process.exit(1);
}

if (!url || !(pid > 0) || !(N > 0) || !(USERS > 0) || !(BATCH > 0) ||
    N % USERS !== 0 || (N / USERS) % BATCH !== 0)
	fail('usage: drive.js URL PID N USERS BATCH (N a multiple of ' +
	    'USERS * BATCH)');

async function ctl(path, body) {
	const opts = body === undefined ? {} : { method: 'POST',
	    headers: { 'content-type': 'application/json' },
	    body: JSON.stringify(body) };
	const res = await fetch(url + '/_ctl/' + path, opts);
	const j = await res.json();

	if (!j.ok)
		fail(`${path}: ${j.description}`);
	return j;
}

/* User and system CPU of the process, in ms. */
function cpuMs() {
	const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	const f = s.slice(s.lastIndexOf(')') + 2).split(' ');

	/* fields 14 and 15 (utime, stime); f[0] is field 3 */
	return (Number(f[11]) + Number(f[12])) * 1000 / CLK_TCK;
}

/*
 * CPU of the PostgreSQL server (the children of postmaster PG_PID:
 * backends and background processes), in ms; 0 without PG_PID.
 */
function pgCpuMs() {
	const pm = Number(process.env.PG_PID || 0);
	let total = 0;

	if (!(pm > 0))
		return 0;
	for (const d of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(d))
			continue;
		let s;
		try {
			s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
		} catch (e) {
			continue;	/* gone meanwhile */
		}
		const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
		if (Number(f[1]) === pm || Number(d) === pm)
			total += (Number(f[11]) + Number(f[12])) * 1000 /
			    CLK_TCK;
	}
	return total;
}

function hwmKiB() {
	const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
	    .match(/^VmHWM:\s+(\d+) kB$/m);

	if (m === null)
		fail('no VmHWM in /proc/PID/status');
	return Number(m[1]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitReady() {
	const end = Date.now() + READY_MS;

	for (;;) {
		const j = await ctl('calls?method=getUpdates&pending=1' +
		    '&limit=1');

		if (j.result.length > 0)
			return j.last_seq;
		if (Date.now() > end)
			fail('the bot did not start polling in 30 s');
		try {
			process.kill(pid, 0);
		} catch (e) {
			fail('the bot died before polling');
		}
		await sleep(10);
	}
}

function send(u, k) {
	const texts = [];

	for (let i = 1; i <= BATCH; i++)
		texts.push(`hello ${k + i}`);
	return ctl('send', { texts, from: { id: USER0 + u, is_bot: false,
	    first_name: `User${u}` }, chat: { id: USER0 + u,
	    type: 'private', first_name: `User${u}` } });
}

/*
 * Queue everything: rounds of BATCH messages from every user, PARALLEL
 * calls at a time within a round (a user's messages stay in order: one
 * call per user and round, rounds one after the other).
 */
async function queue() {
	const per = N / USERS;

	for (let k = 0; k < per; k += BATCH) {
		for (let u = 1; u <= USERS; u += PARALLEL) {
			const calls = [];

			for (let v = u; v < u + PARALLEL && v <= USERS; v++)
				calls.push(send(v, k));
			await Promise.all(calls);
		}
	}
}

/* Every user got "echo k: hello k" for k = 1..N/USERS, once, all 200. */
function check(calls) {
	const seen = new Set();

	if (calls.length !== N)
		fail(`${calls.length} sendMessage calls, expected ${N}`);
	for (const c of calls) {
		const p = c.params, m = /^echo (\d+): hello (\d+)$/
		    .exec(p.text);

		if (c.status !== 200)
			fail(`sendMessage answered ${c.status}: ${c.error}`);
		if (m === null || m[1] !== m[2])
			fail(`wrong reply ${JSON.stringify(p.text)}`);
		const key = `${p.chat_id}/${m[1]}`;
		if (seen.has(key))
			fail(`reply ${key} sent twice`);
		seen.add(key);
	}
}

async function main() {
	const since = await waitReady();
	const cpu0 = cpuMs(), pg0 = pgCpuMs();
	const t0 = process.hrtime.bigint();


	/*
	 * The waiter goes first: it counts the calls that finish after it
	 * (limit=1 keeps its answer small but also caps the count of calls
	 * already there, none yet).
	 */
	const done = ctl(`calls?method=sendMessage&since=${since}` +
	    `&min=${N}&limit=1&wait=${DONE_MS}`);
	await queue();
	const tq = process.hrtime.bigint();
	const w = await done;
	const t1 = process.hrtime.bigint();
	const cpu1 = cpuMs(), pg1 = pgCpuMs();
	if (w.result.length === 0 || t1 - t0 >= BigInt(DONE_MS) * 1000000n)
		fail(`not all ${N} replies within ${DONE_MS / 1000} s`);
	const all = await ctl(`calls?method=sendMessage&since=${since}` +
	    `&limit=${N + 1000}`);
	check(all.result);
	const secs = Number(t1 - t0) / 1e9;
	process.stdout.write(JSON.stringify({
		n: N,
		secs,
		queue_secs: Number(tq - t0) / 1e9,
		ups: N / secs,
		cpu_ms: cpu1 - cpu0,
		pg_cpu_ms: pg1 - pg0,
		hwm_kib: hwmKiB(),
	}) + '\n');
}

main().catch((e) => fail(e.stack || String(e)));
