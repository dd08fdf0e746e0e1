/**
 * One service of the floor stack (floor-stack.ts): the least the fixed design asks of each hop,
 * with none of cutout's own work. No leases, states, retries, checks, metrics or logs; the
 * image is never decoded. What is left is the traffic itself: node:http answering the client,
 * node-redis round trips, and one HTTP call to a model server per job. Run as
 * `node floor-service.js proxy|batch|predict` with FLOOR_PORT, FLOOR_REDIS_URL, FLOOR_PREDICT_URL.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { createRedisClient, type RedisClient } from '@cutout/shared';

const role = process.argv[2];
const env = process.env;

// The bench holds this process's stdin open; when the bench is gone (even killed), stdin ends and
// so does this service, instead of staying on as an orphan.
process.stdin.resume();
process.stdin.once('end', () => process.exit(0));

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, type: string, bytes: Buffer | string): void {
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(bytes) });
  res.end(bytes);
}

async function connect(name: string): Promise<RedisClient> {
  const redis = createRedisClient(env.FLOOR_REDIS_URL!, { name, onError: () => undefined });
  await redis.connect();
  return redis;
}

function serve(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): void {
  const server = createServer((req, res) => void handler(req, res).catch(() => res.destroy()));
  server.listen(Number(env.FLOOR_PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
}

/** start_job: store the input, queue the id (one round trip); get_job: both images (one round trip). */
async function proxy(): Promise<void> {
  const redis = await connect('floor-proxy');
  serve(async (req, res) => {
    if (req.method === 'POST') {
      const { image } = JSON.parse((await body(req)).toString()) as { image: string };
      const id = randomUUID();
      await Promise.all([redis.set(`${id}_image_in`, image), redis.lPush('job_id', id)]);
      return answer(res, 'application/json', JSON.stringify({ status: 'ok', job_id: id, job_status: 'QUEUED' }));
    }
    const id = (req.url ?? '').slice('/get_job/'.length);
    const [input, output] = await Promise.all([redis.get(`${id}_image_in`), redis.get(`${id}_image_out`)]);
    const done = output !== null;
    answer(res, 'application/json', JSON.stringify({ status: done ? 'ok' : 'ng', job_id: id, job_status: done ? 'SUCCEEDED' : 'QUEUED', img_in_base64: input, img_out_base64: output }));
  });
}

/** Workers that each wait for an id, read its input, call predict with its bytes and store the answer. */
async function batch(): Promise<void> {
  const redis = await connect('floor-batch');
  const predict = new Pool(env.FLOOR_PREDICT_URL!, { connections: Number(env.FLOOR_WORKERS) });
  const worker = async () => {
    const waiting = await connect('floor-batch-wait');
    for (;;) {
      const taken = await waiting.brPop('job_id', 0);
      if (!taken) continue;
      const id = taken.element;
      const input = await redis.get(`${id}_image_in`);
      const reply = await predict.request({ path: '/predict', method: 'POST', body: Buffer.from(input ?? '', 'base64'), headers: { 'content-type': 'application/octet-stream' } });
      const output = Buffer.from(await reply.body.arrayBuffer());
      await redis.set(`${id}_image_out`, output.toString('base64'));
    }
  };
  for (let i = 0; i < Number(env.FLOOR_WORKERS); i++) void worker();
  process.stdout.write('ready\n');
}

/** The model server that does nothing: the image comes back as it went. */
function predict(): void {
  serve(async (req, res) => answer(res, 'image/png', await body(req)));
}

if (role === 'proxy') await proxy();
else if (role === 'batch') await batch();
else if (role === 'predict') predict();
else throw new Error(`floor-service: unknown role ${role ?? '(none)'}`);
