/**
 * Chaos suite, clients that hold connections (issue 11). Same harness and end checks as the
 * other scenarios.
 *
 * - slow-clients: while the ordinary load runs, a crowd of clients opens uploads of a declared
 *   megabyte and sends one byte every 200 ms (a slowloris). HTTP_REQUEST_TIMEOUT_MS bounds each:
 *   the proxy answers 408 or closes the connection, queues nothing for it, and every ordinary
 *   client's job is accepted and succeeds as if they were not there.
 */
import { connect } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runScenario } from '../support/chaos/scenario.js';

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
