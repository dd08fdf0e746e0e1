import { setTimeout as sleep } from 'node:timers/promises';
import type { ChaosCluster } from './cluster.js';
import type { LoadGenerator } from './load.js';

const FINISHED = new Set(['SUCCEEDED', 'FAILED']);

/** Names of the queue structures from the issue 3 design (docs: Redis layout). */
export function layoutKeys(prefix: string) {
  return {
    queue: `${prefix}job_id`,
    /** The fair order beside each priority's list, and its state (CONTRACT §13). */
    orders: [`${prefix}job_id_high_order`, `${prefix}job_id_order`, `${prefix}job_id_low_order`],
    orderSlots: `${prefix}job_order_slots`,
    processing: `${prefix}job_id_processing`,
    leases: `${prefix}job_leases`,
    delayed: `${prefix}job_delayed`,
    deadLetter: `${prefix}job_dead_letter`,
    record: (id: string) => `${prefix}${id}_job`,
    output: (id: string) => `${prefix}${id}_image_out`,
  };
}

/**
 * Resolves once `count` of the submitted jobs have had their output written (as the observer saw
 * it): the moment a scenario calls "mid-load".
 */
export async function waitForWritten(cluster: ChaosCluster, load: LoadGenerator, count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (cluster.observer.written(load.ids) < count) {
    if (Date.now() > deadline) {
      const written = cluster.observer.written(load.ids);
      const statuses = await statusCounts(cluster, load.ids).catch((error: Error) => error.message);
      throw new Error(`chaos ${cluster.name}: only ${written} of ${count} outputs written within ${timeoutMs} ms (job statuses: ${statuses})`);
    }
    await sleep(20);
  }
}

/** "SUCCEEDED=12 QUEUED=30 ..." over `ids`, for a failure message. */
async function statusCounts(cluster: ChaosCluster, ids: readonly string[]): Promise<string> {
  const k = layoutKeys(cluster.prefix);
  const statuses = await Promise.all(ids.map((id) => cluster.redis.admin.hGet(k.record(id), 'status')));
  const counts = new Map<string, number>();
  for (const s of statuses) counts.set(s ?? 'none', (counts.get(s ?? 'none') ?? 0) + 1);
  return [...counts].map(([s, n]) => `${s}=${n}`).join(' ');
}

/** Queue, processing and lease counts right now, for a diagnostic line at the moment of a fault. */
export async function snapshot(cluster: ChaosCluster, load: LoadGenerator): Promise<string> {
  const k = layoutKeys(cluster.prefix);
  const admin = cluster.redis.admin;
  const [queued, processing, leases] = await Promise.all([admin.lLen(k.queue), admin.lLen(k.processing), admin.zCard(k.leases)]);
  return `accepted=${load.ids.length} written=${cluster.observer.written(load.ids)} queued=${queued} processing=${processing} leases=${leases}`;
}

/** Waits for the load to be submitted and every accepted id to be SUCCEEDED or FAILED; returns the ids that were not. */
export async function waitFinished(cluster: ChaosCluster, load: LoadGenerator, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const giveUp = new AbortController();
  const submitted = await Promise.race([
    load.done.then(() => true),
    sleep(timeoutMs, false, { signal: giveUp.signal }).catch(() => true),
  ]);
  giveUp.abort();
  if (!submitted) load.stop();
  const k = layoutKeys(cluster.prefix);
  let pending = [...load.ids];
  while (pending.length > 0 && Date.now() <= deadline) {
    try {
      const statuses = await Promise.all(pending.map((id) => cluster.redis.admin.hGet(k.record(id), 'status')));
      pending = pending.filter((_, i) => !FINISHED.has(statuses[i] ?? ''));
    } catch {
      // Redis is away for a moment (a restart scenario): poll again.
    }
    if (pending.length > 0) await sleep(100);
  }
  return pending;
}

export interface Expectations {
  /** Ids that must end FAILED, each with the error codes it may carry (also looked for in the dead letters). */
  failed?: ReadonlyMap<string, readonly string[]>;
  /**
   * Codes any other job may end FAILED with (a scenario whose fault can spend every attempt of
   * a job); such a job is judged like an expected failure: dead-lettered, no output written.
   */
  mayFail?: readonly string[];
  /** Every SUCCEEDED job must show exactly this many attempts (a job that was never run twice: 1). */
  attempts?: number;
  /** A scenario's own end check, run once every job has finished; returns problems. */
  check?: () => Promise<string[]>;
}

export interface Verdict {
  submitted: number;
  succeeded: number;
  failed: number;
  lost: number;
  duplicated: number;
  /** Output writes that fell in the observer's blind spot around a Redis restart (checked through output_writes only). */
  unobserved: number;
  problems: string[];
  /** SUCCEEDED jobs that needed more than one attempt. */
  retried: number;
  /** `<id> <error code> attempts=<n>` of every FAILED job. */
  failures: string[];
  /** `chaos <name>: submitted=… succeeded=… failed=… lost=… duplicated=…` */
  line: string;
}

interface JobFacts {
  id: string;
  record: Record<string, string>;
  outputExists: boolean;
}

async function readFacts(cluster: ChaosCluster, ids: readonly string[]): Promise<JobFacts[]> {
  const k = layoutKeys(cluster.prefix);
  const admin = cluster.redis.admin;
  return Promise.all(
    ids.map(async (id) => {
      const [record, exists] = await Promise.all([admin.hGetAll(k.record(id)), admin.exists(k.output(id))]);
      return { id, record: record as Record<string, string>, outputExists: exists === 1 };
    }),
  );
}

class Judge {
  readonly problems: string[] = [];
  succeeded = 0;
  failed = 0;
  duplicated = 0;
  unobserved = 0;
  retried = 0;
  readonly failures: string[] = [];

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly expect: Expectations,
    private readonly deadLetters: Map<string, { code?: string }>,
    /** `finished_at` of every accepted job, where it has one. */
    private readonly finishedAt: ReadonlyMap<string, number>,
  ) {}

  job(facts: JobFacts): void {
    const { id, record } = facts;
    const seen = this.cluster.observer.writes(id);
    const counted = record.output_writes === undefined ? undefined : Number(record.output_writes);
    if (seen > 1 || (counted ?? 0) > 1) {
      this.duplicated += 1;
      this.problems.push(`${id}: output written ${seen} times (observer), output_writes=${record.output_writes}`);
    }
    if (record.status === 'SUCCEEDED') this.#succeeded(facts, seen, counted);
    else if (record.status === 'FAILED') this.#failed(facts, seen, counted);
  }

  #succeeded({ id, record, outputExists }: JobFacts, seen: number, counted: number | undefined): void {
    this.succeeded += 1;
    if (Number(record.attempts) > 1) this.retried += 1;
    if (this.expect.failed?.has(id)) this.problems.push(`${id}: should have FAILED but SUCCEEDED (attempts=${record.attempts})`);
    if (!outputExists) this.problems.push(`${id}: SUCCEEDED without ${layoutKeys(this.cluster.prefix).output(id)}`);
    if (counted !== 1) this.problems.push(`${id}: SUCCEEDED with output_writes=${record.output_writes} (expected 1)`);
    if (seen === 0) {
      const at = Number(record.finished_at);
      if (this.cluster.observer.blindAt(at, (other) => this.finishedAt.get(other))) this.unobserved += 1;
      else this.problems.push(`${id}: SUCCEEDED but the observer saw no output write (finished_at=${record.finished_at})`);
    }
    if (this.expect.attempts !== undefined && Number(record.attempts) !== this.expect.attempts) {
      this.problems.push(`${id}: SUCCEEDED after attempts=${record.attempts} (expected ${this.expect.attempts})`);
    }
  }

  #failed({ id, record }: JobFacts, seen: number, counted: number | undefined): void {
    this.failed += 1;
    this.failures.push(`${id} ${record.error_code} attempts=${record.attempts}`);
    const allowed = this.expect.failed?.get(id) ?? this.expect.mayFail;
    const reason = `${record.error_code}: ${record.error_message} (attempts=${record.attempts})`;
    if (!allowed) return void this.problems.push(`${id}: FAILED ${reason}`);
    if (!allowed.includes(record.error_code ?? '')) this.problems.push(`${id}: FAILED with ${reason}; expected one of ${allowed.join(', ')}`);
    const letter = this.deadLetters.get(id);
    if (!letter) this.problems.push(`${id}: FAILED but not in the dead-letter list`);
    else if (letter.code !== record.error_code) this.problems.push(`${id}: dead letter says ${letter.code}, the job says ${record.error_code}`);
    if (seen > 0 || (counted ?? 0) > 0) this.problems.push(`${id}: FAILED yet its output was written (observer ${seen}, output_writes=${record.output_writes})`);
  }
}

async function readDeadLetters(cluster: ChaosCluster): Promise<Map<string, { code?: string }>> {
  const letters = new Map<string, { code?: string }>();
  for (const raw of await cluster.redis.admin.lRange(layoutKeys(cluster.prefix).deadLetter, 0, -1)) {
    try {
      const entry = JSON.parse(raw) as { job_id?: string; code?: string };
      if (entry.job_id) letters.set(entry.job_id, entry);
    } catch {
      // judged below only through the ids it should hold
    }
  }
  return letters;
}

/** Structures that must be empty once every job has finished. */
async function leftovers(cluster: ChaosCluster): Promise<string[]> {
  const k = layoutKeys(cluster.prefix);
  const admin = cluster.redis.admin;
  const [processing, queued, leases, delayed, ordered, slots] = await Promise.all([
    admin.lRange(k.processing, 0, -1),
    admin.lLen(k.queue),
    admin.zCard(k.leases),
    admin.zCard(k.delayed),
    Promise.all(k.orders.map((key) => admin.zCard(key))),
    admin.exists(k.orderSlots),
  ]);
  const problems: string[] = [];
  if (processing.length > 0) problems.push(`job_id_processing still holds ${processing.length} ids: ${processing.slice(0, 5).join(', ')}`);
  if (queued > 0) problems.push(`job_id still holds ${queued} ids`);
  if (leases > 0) problems.push(`job_leases still holds ${leases} ids`);
  if (delayed > 0) problems.push(`job_delayed still holds ${delayed} ids`);
  k.orders.forEach((key, i) => {
    if (ordered[i]! > 0) problems.push(`${key} (the fair order) still holds ${ordered[i]} ids`);
  });
  if (slots > 0) problems.push(`${k.orderSlots} is left behind with nothing queued`);
  return problems;
}

/** Every accepted id as a client sees it through GET /get_job must agree with Redis. */
async function clientView(cluster: ChaosCluster, facts: readonly JobFacts[]): Promise<string[]> {
  const problems: string[] = [];
  const queue = [...facts];
  const check = async (): Promise<void> => {
    for (let f = queue.shift(); f; f = queue.shift()) {
      const res = await fetch(`${cluster.proxyUrl}/get_job/${f.id}`, { headers: cluster.clientHeaders });
      const body = (await res.json()) as { job_status?: string; img_out_base64?: string | null; error?: { code: string } };
      if (res.status !== 200 || body.job_status !== f.record.status) problems.push(`${f.id}: get_job answered ${res.status} ${body.job_status}, Redis says ${f.record.status}`);
      else if (body.job_status === 'SUCCEEDED' && !body.img_out_base64) problems.push(`${f.id}: get_job SUCCEEDED without img_out_base64`);
      else if (body.job_status === 'FAILED' && !body.error?.code) problems.push(`${f.id}: get_job FAILED without an error code`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, check));
  return problems;
}

/** Reads the end state of every accepted job and judges it; prints the one summary line. */
export async function judge(cluster: ChaosCluster, load: LoadGenerator, unfinished: readonly string[], expect: Expectations = {}): Promise<Verdict> {
  const facts = await readFacts(cluster, load.ids);
  const finishedAt = new Map(facts.filter((f) => f.record.finished_at !== undefined).map((f) => [f.id, Number(f.record.finished_at)]));
  const j = new Judge(cluster, expect, await readDeadLetters(cluster), finishedAt);
  for (const f of facts) j.job(f);
  const problems = [...load.problems, ...j.problems];
  if (unfinished.length > 0) problems.push(`${unfinished.length} jobs never finished, e.g. ${unfinished.slice(0, 3).map((id) => `${id} (${facts.find((f) => f.id === id)?.record.status ?? 'no record'})`).join(', ')}`);
  if (unfinished.length === 0) problems.push(...(await leftovers(cluster)));
  if (expect.check) problems.push(...(await expect.check()));
  problems.push(...(await clientView(cluster, facts)));
  for (const id of expect.failed?.keys() ?? []) if (!load.imageOf.has(id)) problems.push(`${id}: expected to fail but was never accepted`);
  const verdict = {
    submitted: load.ids.length,
    succeeded: j.succeeded,
    failed: j.failed,
    lost: unfinished.length,
    duplicated: j.duplicated,
    unobserved: j.unobserved,
    problems,
    failures: j.failures,
    retried: j.retried,
    line: `chaos ${cluster.name}: submitted=${load.ids.length} succeeded=${j.succeeded} failed=${j.failed} lost=${unfinished.length} duplicated=${j.duplicated}`,
  };
  console.log(verdict.line);
  return verdict;
}

/** The assertion message: the first problems, then what the services printed last. */
export function explain(cluster: ChaosCluster, verdict: Verdict): string {
  const shown = verdict.problems.slice(0, 15).map((p) => `  - ${p}`);
  const more = verdict.problems.length > 15 ? [`  ... and ${verdict.problems.length - 15} more`] : [];
  return [`${verdict.line}: ${verdict.problems.length} problems`, ...shown, ...more, cluster.tail(40)].join('\n');
}
