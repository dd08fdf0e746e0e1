import { Gauge, type Registry } from 'prom-client';
import type { QueueStats } from '../redis/job-record.js';

export interface QueueMetricsOptions {
  /** One read of the queue's sizes (JobRepository.stats). */
  stats: () => Promise<QueueStats>;
  /** How long a scrape waits for Redis before it answers without the queue series. Default 500 ms. */
  timeoutMs?: number;
}

const PRIORITIES = ['high', 'normal', 'low'] as const;

/**
 * The queue's sizes, read from Redis while a scrape runs (one MULTI per scrape, shared by every
 * gauge), so they are the fleet's, whichever process is scraped. When Redis does not answer in
 * time the scrape still answers: these series are left out and `cutout_queue_redis_up` is 0.
 */
export function registerQueueMetrics(registry: Registry, options: QueueMetricsOptions): void {
  // A second app on the same registry (tests) reads the same queue: the first set serves both.
  if (registry.getSingleMetric('cutout_queue_depth')) return;
  const timeoutMs = options.timeoutMs ?? 500;
  let pending: Promise<QueueStats | null> | null = null;
  // Every gauge's collect starts in the same turn of one scrape, before the read settles, so
  // they share it; the next scrape reads again.
  const read = (): Promise<QueueStats | null> => {
    pending ??= readWithin(options.stats, timeoutMs).finally(() => (pending = null));
    return pending;
  };
  const registers = [registry];

  new Gauge({
    name: 'cutout_queue_redis_up',
    help: '1 when this scrape could read the queue from Redis, 0 when it could not (the queue series are then missing)',
    registers,
    async collect() {
      this.set((await read()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'cutout_queue_depth',
    help: 'Jobs waiting to be taken, by priority',
    labelNames: ['priority'],
    registers,
    async collect() {
      const stats = await read();
      this.reset();
      if (stats) for (const priority of PRIORITIES) this.set({ priority }, stats.queuedByPriority[priority]);
    },
  });
  const single = (name: string, help: string, pick: (stats: QueueStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const stats = await read();
        if (stats) this.set(pick(stats));
        else this.remove();
      },
    });
  single('cutout_jobs_running', 'Jobs taken by a worker and not yet ended (the processing list)', (s) => s.running);
  single('cutout_jobs_delayed', 'Jobs waiting for a retry to come due', (s) => s.delayed);
  single('cutout_dead_letters', 'Entries in the dead-letter list of FAILED jobs (capped at DEAD_LETTER_MAX)', (s) => s.deadLetters);
  single('cutout_callbacks_pending', 'Callback deliveries waiting in the outbox (due or in flight)', (s) => s.callbacksPending);
}

async function readWithin(stats: () => Promise<QueueStats>, ms: number): Promise<QueueStats | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    return await Promise.race([stats().catch(() => null), late]);
  } finally {
    clearTimeout(timer);
  }
}
