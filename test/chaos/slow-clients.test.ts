/**
 * Chaos suite, clients that hold connections (issue 11). Same harness and end checks as the
 * other scenarios.
 *
 * - slow-clients: while the ordinary load runs, a crowd of clients opens uploads of a declared
 *   megabyte and sends one byte every 200 ms (a slowloris). HTTP_REQUEST_TIMEOUT_MS bounds each:
 *   the proxy answers 408 or closes the connection, queues nothing for it, and every ordinary
 *   client's job is accepted and succeeds as if they were not there.
 * - unread-results: while the ordinary load runs, ten clients ask for a big job's /get_job answer
 *   and read only its status line. The write deadline (HTTP_WRITE_TIMEOUT_MS +
 *   size / HTTP_WRITE_MIN_BYTES_PER_S) cuts each, cutout_http_responses_cut_total counts them, and
 *   every ordinary job still succeeds.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { runScenario } from '../support/chaos/scenario.js';
import { scrape, total } from '../support/prometheus.js';
import { statusLineOnly } from '../support/raw-http.js';
import { rssMiB } from '../support/service-watch.js';

const TRICKLERS = 24;

interface TrickleOutcome {
  /** The status the proxy answered with, or null when it closed without an answer. */
  status: number | null;
  /** Body bytes the client got to send before that. */
  sent: number;
}

/**
 * One slow client: the headers of a 1 MB JSON upload, then a byte every 200 ms, for as long as
 * the proxy keeps the connection. Resolves with what the proxy did about it.
 */
function trickleUpload(proxyUrl: string): Promise<TrickleOutcome> {
  const { hostname, port, host } = new URL(proxyUrl);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let answer = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      socket.write(`POST /start_job HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"image":"`);
      timer = setInterval(() => {
        if (socket.writable) {
          socket.write('A');
          sent += 1;
        }
      }, 200);
    });
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined); // a reset is one way of being closed
    socket.on('close', () => {
      clearInterval(timer);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1];
      resolve({ status: status === undefined ? null : Number(status), sent });
    });
  });
}

test('slow-clients: uploads that trickle in are cut off by HTTP_REQUEST_TIMEOUT_MS; every other job is unaffected', { timeout: 60_000 }, async (t) => {
  let outcomes: TrickleOutcome[] = [];
  await runScenario(
    t,
    { name: 'slow-clients', jobs: 150, ratePerSecond: 40, env: { BATCH_CONCURRENCY: '4', JOB_LEASE_MS: '3000', REAPER_INTERVAL_MS: '200', HTTP_REQUEST_TIMEOUT_MS: '1000' } },
    async ({ cluster, load, note }) => {
      // While the ordinary uploads are still coming in.
      while (load.ids.length < 20) await sleep(20);
      await note(`${TRICKLERS} slow clients start`);
      // Two waves, so some arrive while the first are being cut off.
      const first = Array.from({ length: TRICKLERS / 2 }, () => trickleUpload(cluster.proxyUrl));
      await sleep(700);
      const second = Array.from({ length: TRICKLERS / 2 }, () => trickleUpload(cluster.proxyUrl));
      // The test's timeout bounds this wait: a proxy without a request timeout never closes them.
      outcomes = await Promise.all([...first, ...second]);
      await note(`slow clients cut off: ${outcomes.map((o) => o.status ?? 'closed').join(' ')}`);
      await load.done;
      return {
        check: async () => {
          const problems: string[] = [];
          const answered = outcomes.filter((o) => o.status !== null && o.status !== 408);
          if (answered.length > 0) problems.push(`slow uploads were answered ${answered.map((o) => o.status).join(', ')} instead of 408 or a close`);
          // Nothing of theirs was queued: the jobs Redis counts are exactly the accepted ones.
          const submitted = Number(await cluster.redis.admin.hGet(`${cluster.prefix}job_counts`, 'submitted'));
          if (submitted !== load.ids.length) problems.push(`Redis counts ${submitted} submitted jobs, the clients were answered ${load.ids.length} ids`);
          return problems;
        },
      };
    },
  );
  t.diagnostic(`slow clients: ${outcomes.filter((o) => o.status === 408).length} answered 408, ${outcomes.filter((o) => o.status === null).length} closed; bytes sent before that ${Math.min(...outcomes.map((o) => o.sent))}-${Math.max(...outcomes.map((o) => o.sent))}`);
});

const UNREAD_CLIENTS = 10;

/** A PNG of noise (it does not compress): about 6 MB, 8 MB of base64. */
async function bigNoisePng(): Promise<string> {
  const side = 1400;
  const png = await sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
  return png.toString('base64');
}


test('unread-results: clients reading only the status line of a big answer are cut by the write deadline; every other job is unaffected', { timeout: 120_000 }, async (t) => {
  const big = await bigNoisePng();
  const figures: string[] = [];
  await runScenario(
    t,
    {
      name: 'unread-results',
      jobs: 150,
      ratePerSecond: 40,
      // The big image is image 0.
      firstImages: [big],
      finishWithinMs: 90_000,
      env: { BATCH_CONCURRENCY: '4', HTTP_WRITE_TIMEOUT_MS: '1000', HTTP_WRITE_MIN_BYTES_PER_S: String(4 * 1024 * 1024), REDIS_COMMAND_TIMEOUT_MS: '5000' },
    },
    async ({ cluster, load, note }) => {
      const bigOf = () => [...load.imageOf].find(([, index]) => index === 0)?.[0];
      while (load.ids.length < 20 || bigOf() === undefined) await sleep(20);
      const bigId = bigOf()!;
      // Its answer carries the input and, once done, the output: both megabytes of base64.
      await fetch(`${cluster.proxyUrl}/v1/jobs/${bigId}?wait=30`).then((res) => res.arrayBuffer());
      await note(`${UNREAD_CLIENTS} clients read only the status line of /get_job for the big job`);
      const rssBefore = (cluster.proxy.pid === undefined ? Number.NaN : rssMiB(cluster.proxy.pid));
      const started = performance.now();
      const clients = Array.from({ length: UNREAD_CLIENTS }, () => statusLineOnly(cluster.proxyUrl, `/get_job/${bigId}`));
      const statuses = await Promise.all(clients.map((c) => c.status));
      await sleep(300);
      const rssHeld = (cluster.proxy.pid === undefined ? Number.NaN : rssMiB(cluster.proxy.pid));
      // The test's timeout bounds this wait: without a write deadline nothing is ever cut.
      let cuts = 0;
      while (cuts < UNREAD_CLIENTS) {
        cuts = total((await scrape(`${cluster.proxyUrl}/metrics`)).samples, 'cutout_http_responses_cut_total', { service: 'proxy', route: '/get_job/:job_id' });
        await sleep(250);
      }
      const cutAfterS = (performance.now() - started) / 1000;
      const ends = await Promise.all(clients.map((c) => c.drain()));
      await note(`all ${UNREAD_CLIENTS} cut`);
      figures.push(`proxy RSS ${rssBefore.toFixed(0)} MiB before, ${rssHeld.toFixed(0)} MiB while held; all cut ${cutAfterS.toFixed(1)} s after connecting`);
      await load.done;
      return {
        check: async () => {
          const problems: string[] = [];
          if (statuses.some((s) => s !== 'HTTP/1.1 200 OK')) problems.push(`the unread clients were answered ${statuses.join(', ')}`);
          if (ends.some((e) => !(e.received < e.length))) problems.push('an unread answer arrived whole: it was not cut');
          return problems;
        },
      };
    },
  );
  for (const figure of figures) t.diagnostic(figure);
});
