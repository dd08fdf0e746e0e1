import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServerHandle } from '../process/redis-server.js';
import { createRedisClient, closeRedisClient, type RedisClient } from './client.js';
import { checkRedisDurability } from './durability.js';

let server: RedisServerHandle;
let admin: RedisClient;

async function connect(url: string): Promise<RedisClient> {
  const client = createRedisClient(url, { name: 'durability-test', onError: () => {} });
  await client.connect();
  return client;
}

before(async () => {
  // startRedisServer's own settings: noeviction, no save points, appendonly no.
  server = await startRedisServer();
  admin = await connect(server.url);
});

after(async () => {
  await closeRedisClient(admin);
  await server.stop();
});

test('a Redis that persists nothing and has no memory limit gets a warning for each, with the CONFIG SET that fixes it', async () => {
  const warnings = await checkRedisDurability(admin);
  assert.equal(warnings.length, 2, JSON.stringify(warnings));
  assert.match(warnings[0]!, /persists nothing/);
  assert.match(warnings[0]!, /CONFIG SET appendonly yes/);
  assert.match(warnings[1]!, /maxmemory is 0/);
  assert.match(warnings[1]!, /CONFIG SET maxmemory/);
});

test('append-only with appendfsync everysec, noeviction and a memory limit gets no warning', async () => {
  const aof = await startRedisServer({ appendOnly: true, maxmemory: '100mb' });
  const client = await connect(aof.url);
  try {
    assert.deepEqual(await checkRedisDurability(client), []);
    await client.configSet('appendfsync', 'no');
    const warnings = await checkRedisDurability(client);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!, /appendfsync no/);
    assert.match(warnings[0]!, /CONFIG SET appendfsync everysec/);
  } finally {
    await closeRedisClient(client);
    await aof.stop();
  }
});

test('an evicting policy is a warning that names the policy and the memory limit; RDB snapshots alone are one too', async () => {
  await admin.configSet({ 'maxmemory-policy': 'allkeys-lru', maxmemory: '104857600', save: '900 1' });
  try {
    const warnings = await checkRedisDurability(admin);
    assert.equal(warnings.length, 2, JSON.stringify(warnings));
    assert.match(warnings[0]!, /"allkeys-lru"/);
    assert.match(warnings[0]!, /104857600 bytes/);
    assert.match(warnings[0]!, /CONFIG SET maxmemory-policy noeviction/);
    assert.match(warnings[1]!, /only RDB snapshots/);
    assert.match(warnings[1]!, /CONFIG SET appendonly yes/);
  } finally {
    await admin.configSet({ 'maxmemory-policy': 'noeviction', maxmemory: '0', save: '' });
  }
});

test('an evicting policy without a memory limit still warns (the limit may be set later), beside the persistence and limit warnings', async () => {
  await admin.configSet('maxmemory-policy', 'volatile-ttl');
  try {
    const warnings = await checkRedisDurability(admin);
    assert.equal(warnings.length, 3, JSON.stringify(warnings));
    assert.match(warnings[0]!, /"volatile-ttl".*no limit/);
    assert.match(warnings[1]!, /persists nothing/);
    assert.match(warnings[2]!, /maxmemory is 0/);
  } finally {
    await admin.configSet('maxmemory-policy', 'noeviction');
  }
});

test('a user who may not run CONFIG (as on managed Redis) gets one warning saying what to check by hand', async () => {
  await admin.sendCommand(['ACL', 'SETUSER', 'app', 'on', '>app-secret', '~*', '&*', '+@all', '-config']);
  const url = new URL(server.url);
  url.username = 'app';
  url.password = 'app-secret';
  const limited = await connect(url.toString());
  try {
    const warnings = await checkRedisDurability(limited);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!, /could not read the Redis configuration/);
    assert.match(warnings[0]!, /NOPERM/i);
    assert.match(warnings[0]!, /maxmemory-policy noeviction/);
  } finally {
    await closeRedisClient(limited);
  }
});

test('a closed client or a Redis that never answers gives a warning, never an exception or a hang', async () => {
  const closed = await connect(server.url);
  await closeRedisClient(closed);
  const offline = await checkRedisDurability(closed);
  assert.equal(offline.length, 1);
  assert.match(offline[0]!, /could not read/);

  const frozen = await startRedisServer();
  const client = await connect(frozen.url);
  frozen.process.kill('SIGSTOP');
  try {
    const warnings = await checkRedisDurability(client, { timeoutMs: 200 });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /no answer within 200 ms/);
  } finally {
    frozen.process.kill('SIGCONT');
    await closeRedisClient(client);
    await frozen.stop();
  }
});
