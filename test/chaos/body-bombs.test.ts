/**
 * Chaos suite, hostile request bodies (issue 18, items 1 and 3), against a real proxy process:
 *
 * - group-bomb: a few hundred bytes of brotli that inflate to 600 MiB of group JSON. It used to
 *   end the proxy (one string past V8's 512 MiB); now it is 413 at MAX_REQUEST_BYTES.
 * - vision-bombs: four brotli Vision bodies at once, each inflating to 16 entries near the
 *   per-entry limit (about 460 MiB). They used to cost the proxy 4 GB of RSS and break its Redis
 *   connection; now the body budget (BODY_BUDGET_BYTES) turns some away with 503 and Retry-After
 *   and holds memory to a bound.
 *
 * Meanwhile another API key submits a small job, which must succeed. Each scenario prints the
 * proxy's peak RSS (VmHWM), its longest event-loop stall (nodejs_eventloop_lag_max_seconds over
 * the scenario) and the other key's wait, and checks that the budget is back to zero after.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { ChaosCluster } from '../support/chaos/cluster.js';
import { brotliOf, sendBody, type BodyPart, type Sent } from '../support/hostile-bodies.js';
import { metricValue } from '../support/prometheus.js';

const MIB = 1024 * 1024;
const ATTACKER = 'attacker-key-0000000001';
const VICTIM = 'victim-key-000000000002';
/** The default MAX_IMAGE_BYTES's JSON limit (bodyLimitBytes of 20 MiB), less room for the entry around it. */
const NEAR_ENTRY_LIMIT = Math.ceil(((20 * MIB) / 3) * 4 * (1 + 1 / 32)) + 64 * 1024 - 1024;
/**
 * What the proxy may reach while the bombs land: its own start (about 150 MiB) and the body
 * budget (256 MiB by default) held about twice over (the text as it streams, then the strings
 * made of it), with room to spare. Before the fix four Vision bombs took 4 GB.
 */
const RSS_BOUND_BYTES = 1_200 * MIB;

/** Peak and current resident memory of a process, from /proc (Linux). */
function memoryOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { peak: kib('VmHWM'), now: kib('VmRSS') };
}

async function scrape(cluster: ChaosCluster): Promise<string> {
  const res = await fetch(`${cluster.proxyUrl}/metrics`, { headers: { authorization: `Bearer ${ATTACKER}` } });
  return res.text();
}

/** A small job of the other key, from submit to SUCCEEDED. */
async function victimJob(cluster: ChaosCluster, image: string): Promise<{ status: string; waitMs: number }> {
  const started = performance.now();
  const headers = { authorization: `Bearer ${VICTIM}`, 'content-type': 'application/json' };
  const submitted = await fetch(`${cluster.proxyUrl}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ image }) });
  const job = (await submitted.json()) as { id?: string; status?: string };
  assert.equal(submitted.status, 202, `the other key's upload was taken: ${JSON.stringify(job)}`);
  let status = job.status ?? '?';
  for (let i = 0; i < 4 && status !== 'SUCCEEDED' && status !== 'FAILED'; i++) {
    const res = await fetch(`${cluster.proxyUrl}/v1/jobs/${job.id}?wait=30`, { headers });
    status = ((await res.json()) as { status: string }).status;
  }
  return { status, waitMs: performance.now() - started };
}

interface Outcome {
  answers: Sent[];
  victim: { status: string; waitMs: number };
}

/** Sends the bombs at once while the other key's job runs; prints the figures; checks what holds for every scenario. */
async function underBombs(t: TestContext, name: string, bombs: Array<{ path: string; body: Buffer }>): Promise<Outcome> {
  const cluster = await ChaosCluster.start({ name, env: { API_KEYS: `${ATTACKER},${VICTIM}`, BATCH_CONCURRENCY: '2' } });
  t.after(() => cluster.close());
  const pid = cluster.proxy.pid!;
  const image = (await sharp({ create: { width: 48, height: 32, channels: 3, background: '#3355aa' } }).png().toBuffer()).toString('base64');
  await scrape(cluster); // resets the event-loop lag's maximum: the next scrape tells this scenario's
  const before = memoryOf(pid);
  const headers = { authorization: `Bearer ${ATTACKER}`, 'content-type': 'application/json', 'content-encoding': 'br' };
  const [victim, ...answers] = await Promise.all([victimJob(cluster, image), ...bombs.map((b) => sendBody(cluster.proxyUrl, { path: b.path, headers, parts: b.body }))]);
  assert.ok(cluster.proxy.running, `the proxy is still running\n${cluster.tail(30)}`);
  const metrics = await scrape(cluster);
  const after = memoryOf(pid);
  const stall = metricValue(metrics, 'nodejs_eventloop_lag_max_seconds');
  t.diagnostic(
    `${name}: ${bombs.length} bomb(s) of ${bombs.map((b) => b.body.length).join('/')} bytes answered ${answers.map((a) => a.status ?? a.error).join(' ')}; ` +
      `proxy RSS peak ${(after.peak / MIB).toFixed(0)} MiB (before the bombs ${(before.peak / MIB).toFixed(0)} MiB, now ${(after.now / MIB).toFixed(0)} MiB); ` +
      `longest event-loop stall ${(stall * 1000).toFixed(0)} ms; the other key's job ${victim.status} after ${victim.waitMs.toFixed(0)} ms`,
  );
  assert.equal(victim.status, 'SUCCEEDED', "the other key's small job succeeded");
  assert.ok(after.peak <= RSS_BOUND_BYTES, `proxy RSS peak ${(after.peak / MIB).toFixed(0)} MiB is within ${RSS_BOUND_BYTES / MIB} MiB`);
  assert.equal(metricValue(metrics, 'cutout_proxy_body_bytes_held'), 0, 'every byte of the body budget came back');
  const health = await fetch(`${cluster.proxyUrl}/health`);
  assert.equal(health.status, 200, 'the proxy still answers /health');
  return { answers, victim };
}

function errorCode(sent: Sent): string | undefined {
  try {
    return (JSON.parse(sent.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

test('group-bomb: 600 MiB of group JSON in a few hundred bytes of brotli is 413 and ends nothing', { timeout: 180_000 }, async (t) => {
  const body = await brotliOf(['{"images":["', { fill: 'A', count: 600 * MIB }, '"]}']);
  const { answers } = await underBombs(t, 'group-bomb', [{ path: '/v1/groups', body }]);
  assert.equal(answers[0]!.status, 413, answers[0]!.error ?? answers[0]!.body);
  assert.equal(errorCode(answers[0]!), 'BODY_TOO_LARGE');
});

test('vision-bombs: four brotli Vision bombs at once are held to the body budget: 413 or 503 with Retry-After, memory bounded', { timeout: 240_000 }, async (t) => {
  const parts: BodyPart[] = ['{"requests":['];
  for (let i = 0; i < 16; i++) parts.push(i === 0 ? '' : ',', '{"image":{"content":"', { fill: 'A', count: NEAR_ENTRY_LIMIT }, '"},"features":[{"type":"x"}]}');
  parts.push(']}');
  const body = await brotliOf(parts);
  const { answers } = await underBombs(t, 'vision-bombs', Array.from({ length: 4 }, () => ({ path: '/', body })));
  for (const answer of answers) {
    assert.ok(answer.status === 413 || answer.status === 503, `a bomb is refused: ${answer.status ?? answer.error} ${answer.body.slice(0, 200)}`);
    if (answer.status === 413) assert.equal(errorCode(answer), 'BODY_TOO_LARGE');
    if (answer.status === 503) {
      assert.equal(errorCode(answer), 'BODY_BUDGET_FULL');
      assert.equal(answer.headers['retry-after'], '2');
    }
  }
  // Four bodies of 128 MiB each do not fit in a budget of 256 MiB at once.
  assert.ok(answers.some((a) => a.status === 503), 'the budget turned some away');
});
