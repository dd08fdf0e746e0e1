import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, startRedisServer } from '@cutout/shared';
import type { PidMap } from '../process-stats.js';

/** The floor stack's processes, as the bench measures the real one's. */
export interface FloorStack {
  proxyUrl: string;
  pids: PidMap;
  stop(): Promise<void>;
}

const SERVICE = fileURLToPath(new URL('./floor-service.js', import.meta.url));

function started(child: ChildProcess, role: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready')) resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`floor ${role} exited (${code}) before it was ready: ${output.slice(-500)}`)));
  });
}

/**
 * The same processes and hops as cutout's stack (a client's proxy, batch workers polling a Redis
 * list, an HTTP model server, Redis with the same settings as the bench's private one), each
 * doing only its traffic (floor-service.ts). What it costs per job is what any implementation of
 * the design costs in Node on this machine before it does any work of its own.
 */
export async function startFloorStack(workers: number): Promise<FloorStack> {
  const redis = await startRedisServer({ appendOnly: true, maxmemory: '1gb' });
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children) child.kill('SIGKILL');
    await redis.stop();
  };
  try {
    const [proxyPort, predictPort] = [await freePort(), await freePort()];
    const launch = async (role: string, port: number) => {
      const env = { ...process.env, FLOOR_PORT: String(port), FLOOR_REDIS_URL: redis.url, FLOOR_PREDICT_URL: `http://127.0.0.1:${predictPort}`, FLOOR_WORKERS: String(workers) };
      // stdin stays open while this process lives: the service exits when it ends (floor-service.ts).
      const child = spawn(process.execPath, [SERVICE, role], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(child);
      await started(child, role);
      return child.pid!;
    };
    const predict = await launch('predict', predictPort);
    const batch = await launch('batch', 0);
    const proxy = await launch('proxy', proxyPort);
    return { proxyUrl: `http://127.0.0.1:${proxyPort}`, pids: { predict, batch, proxy, redis: redis.process.pid! }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
