import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@cutout/config';
import { startStack, StackStartError, type ServiceName } from './stack.js';

// Stand-ins for the real services: the launcher's job is processes, ports, wiring and order,
// which these exercise without the model or Redis traffic.
// 'taken-once': the first start finds its port taken (it binds it twice, so the second bind
// really fails with EADDRINUSE) and exits as a real service would; later starts serve.
function standIn(name: ServiceName, orderFile: string, mode: 'serve' | 'crash' | 'taken-once'): string {
  const portVar = name === 'predict' ? 'PREDICT_PORT' : name === 'proxy' ? 'PROXY_PORT' : 'BATCH_METRICS_PORT';
  const health = name === 'predict' ? { health: 'ok' } : { status: 'ok' };
  return `
import { createServer } from 'node:http';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
const env = process.env;
console.log(JSON.stringify({ level: 'info', message: 'env', service: ${JSON.stringify(name)}, redis_url: env.REDIS_URL, predict_url: env.PREDICT_URL, marker: env.STAND_IN_MARKER, port: env[${JSON.stringify(portVar)}] }));
if (${JSON.stringify(mode)} === 'crash') { console.error('boom: the model file is missing'); process.exit(3); }
const port = Number(env[${JSON.stringify(portVar)}]);
const takenFlag = ${JSON.stringify(`${orderFile}.${name}-taken`)};
if (${JSON.stringify(mode)} === 'taken-once' && !existsSync(takenFlag)) {
  writeFileSync(takenFlag, '');
  createServer().listen(port, '127.0.0.1', () => {
    createServer().once('error', (error) => {
      console.log(JSON.stringify({ level: 'error', message: ${JSON.stringify(`${name} failed to start`)}, error: 'cannot listen: ' + error.message }));
      process.exit(1);
    }).listen(port, '127.0.0.1');
  });
} else {
  createServer((req, res) => res.end(JSON.stringify(${JSON.stringify(health)}))).listen(port, '127.0.0.1');
}
process.on('SIGTERM', () => { appendFileSync(${JSON.stringify(orderFile)}, ${JSON.stringify(name)} + '\\n'); process.exit(0); });
`;
}

function setUp(crash: ServiceName | undefined = undefined, taken: ServiceName | undefined = undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'cutout-stack-'));
  const orderFile = join(dir, 'stopped.txt');
  const entryPoints: Record<ServiceName, string> = { predict: '', batch: '', proxy: '' };
  for (const name of ['predict', 'batch', 'proxy'] as const) {
    entryPoints[name] = join(dir, `${name}.mjs`);
    writeFileSync(entryPoints[name], standIn(name, orderFile, name === crash ? 'crash' : name === taken ? 'taken-once' : 'serve'));
  }
  const lines: string[] = [];
  const config = loadConfig({ PREDICT_HOST: '127.0.0.1', PROXY_HOST: '127.0.0.1', SHUTDOWN_GRACE_MS: '2000' });
  const base = { config, entryPoints, proxyPort: 0, predictPort: 0, batchMetricsPort: 0, logSink: (l: string) => lines.push(l), startTimeoutMs: 20_000 };
  return { dir, orderFile, lines, base, cleanUp: () => rmSync(dir, { recursive: true, force: true }) };
}

function ping(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port) }, () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().trim());
    });
    socket.once('error', reject);
  });
}

test('starts redis, predict, batch, proxy wired together and stops them in reverse order', async () => {
  const { orderFile, lines, base, cleanUp } = setUp();
  try {
    const stack = await startStack({ ...base, env: { STAND_IN_MARKER: 'm1' } });
    assert.equal(stack.privateRedis, true);
    assert.equal(await ping(stack.redisUrl), '+PONG');
    assert.equal((await fetch(`${stack.predictUrl}/health`)).status, 200);
    assert.deepEqual(await (await fetch(`${stack.proxyUrl}/health`)).json(), { status: 'ok' });
    const pids = stack.pids;
    assert.deepEqual(Object.keys(pids).sort(), ['batch', 'predict', 'proxy', 'redis']);
    assert.equal(new Set(Object.values(pids)).size, 4, 'four distinct processes');
    for (const [name, pid] of Object.entries(pids)) {
      assert.ok(Number.isInteger(pid) && pid > 0, name);
      assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^VmHWM:\s+\d+ kB$/m, `${name}'s peak memory is readable`);
    }
    assert.equal((await fetch(`${stack.batchMetricsUrl}/health`)).status, 200);
    const envLines = lines.map((l) => JSON.parse(l)).filter((e) => e.message === 'env');
    assert.deepEqual(envLines.map((e) => e.service).sort(), ['batch', 'predict', 'proxy']);
    for (const e of envLines) {
      assert.equal(e.redis_url, stack.redisUrl, `${e.service} got the private Redis`);
      assert.equal(e.predict_url, stack.predictUrl, `${e.service} got the predict it started`);
      assert.equal(e.marker, 'm1', 'env overrides reach every service');
    }
    const dataDir = stack.redisDataDir!;
    assert.ok(existsSync(dataDir));
    await Promise.all([stack.stop(), stack.stop()]);
    assert.deepEqual(readFileSync(orderFile, 'utf8').trim().split('\n'), ['proxy', 'batch', 'predict']);
    assert.ok(!existsSync(dataDir), 'the temporary Redis data folder is removed');
    await assert.rejects(ping(stack.redisUrl), /ECONNREFUSED/);
    await assert.rejects(fetch(`${stack.proxyUrl}/health`));
  } finally {
    cleanUp();
  }
});

test('a service that dies during start-up fails the start with its last output, and nothing later starts', async () => {
  const { lines, base, cleanUp } = setUp('predict');
  try {
    const error = await startStack({ ...base, redisUrl: 'redis://127.0.0.1:1' }).then(
      () => assert.fail('expected the start to fail'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof StackStartError);
    assert.match(error.message, /predict exited during start-up/);
    assert.match(error.message, /boom: the model file is missing/);
    assert.ok(error.lastLines.some((l) => l.includes('boom')));
    assert.ok(!lines.some((l) => l.includes('starting batch')), 'batch was never started');
  } finally {
    cleanUp();
  }
});

test('batch dying during start-up fails the start with its output, though the proxy came up', async () => {
  const { base, cleanUp } = setUp('batch');
  try {
    await assert.rejects(startStack(base), (e: unknown) => e instanceof StackStartError && /batch exited during start-up/.test(e.message) && /boom/.test(e.message));
  } finally {
    cleanUp();
  }
});

for (const taken of ['predict', 'batch', 'proxy'] as const) {
  test(`a free port picked for ${taken} but taken before it listens: ${taken} is started again on another, and the start succeeds`, async () => {
    const { lines, base, cleanUp } = setUp(undefined, taken);
    try {
      const stack = await startStack(base);
      try {
        const url = { predict: stack.predictUrl, batch: stack.batchMetricsUrl, proxy: stack.proxyUrl }[taken];
        assert.equal((await fetch(`${url}/health`)).status, 200);
        const tries = lines.map((l) => JSON.parse(l)).filter((e) => e.message === 'env' && e.service === taken);
        assert.equal(tries.length, 2, `${taken} was started twice`);
        assert.notEqual(tries[0].port, tries[1].port, 'on another port the second time');
        assert.equal(new URL(url).port, tries[1].port, 'the stack hands out the port that worked');
        assert.ok(lines.some((l) => l.includes(`the port picked for ${taken} was taken`)));
        const crashed = await Promise.race([stack.crashed.then(() => true), new Promise((resolve) => setTimeout(resolve, 100, false))]);
        assert.equal(crashed, false, 'the first try exiting is not a crash of the running stack');
        if (taken === 'predict') {
          const batchEnv = lines.map((l) => JSON.parse(l)).find((e) => e.message === 'env' && e.service === 'batch');
          assert.equal(batchEnv.predict_url, stack.predictUrl, 'batch is wired to the predict that came up');
        }
      } finally {
        await stack.stop();
      }
    } finally {
      cleanUp();
    }
  });
}

test('a port already in use is reported with the variable that moves it', async () => {
  const { base, cleanUp } = setUp();
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  try {
    const port = (blocker.address() as { port: number }).port;
    await assert.rejects(startStack({ ...base, proxyPort: port, redisUrl: 'redis://127.0.0.1:1' }), (e: unknown) => {
      return e instanceof StackStartError && new RegExp(`port ${port} is already in use \\(PROXY_PORT\\)`).test(e.message);
    });
  } finally {
    blocker.close();
    cleanUp();
  }
});
