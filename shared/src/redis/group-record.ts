import { parseStoredOptions, type JobOptions } from '../contract/options.js';

/** A group as its hash in Redis holds it. */
export interface GroupRecord {
  id: string;
  createdAt: number | null;
  finishedAt: number | null;
  size: number;
  /** Jobs that have not ended yet; 0 once the group is DONE. */
  unfinished: number;
  options: JobOptions;
  owner: string | null;
  callbackUrl: string | null;
  /** Its jobs' ids, in the order of its images. */
  jobIds: string[];
}

const num = (value: string | undefined): number | null => (value === undefined || value === '' || !Number.isFinite(Number(value)) ? null : Number(value));

export function readGroupRecord(id: string, hash: Record<string, string>, jobIds: string[]): GroupRecord {
  return {
    id,
    createdAt: num(hash.created_at),
    finishedAt: num(hash.finished_at),
    size: num(hash.size) ?? jobIds.length,
    unfinished: num(hash.unfinished) ?? 0,
    options: parseStoredOptions(hash.options),
    owner: hash.owner || null,
    callbackUrl: hash.callback_url || null,
    jobIds,
  };
}
