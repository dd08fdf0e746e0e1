import type { ErrorBody, ErrorCode, V1Job } from '@cutout/shared/contract';

/** What the proxy answered instead of what was asked for, in its own words. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | string,
    message: string,
    /** Seconds from Retry-After, when the answer had one. */
    readonly retryAfterS: number | undefined,
  ) {
    super(message);
    this.name = 'ApiProblem';
  }
}

/**
 * The group answer of CONTRACT §6. The contract module has no group schema yet (it arrives with
 * the workloads issue), so this names only the two fields the page reads.
 */
export interface CreatedGroup {
  id: string;
  jobs: string[];
}

/** The options form's values, sent as multipart form fields (CONTRACT §6). */
export interface UploadOptions {
  format: 'png' | 'webp';
  onlyMask: boolean;
  /** '#rrggbb', or null for a transparent background. */
  bgcolor: string | null;
}

/** Asks the person for an API key; resolves null when they decline. */
export type KeyPrompt = (reason: 'needed' | 'rejected') => Promise<string | null>;

export interface KeyStore {
  get(): string | null;
  set(key: string | null): void;
}

/** Long-poll length for GET /v1/jobs/{id}?wait=: under the proxy's 30 s cap. */
export const WAIT_S = 25;

async function problemOf(response: Response): Promise<ApiProblem> {
  const retry = Number(response.headers.get('retry-after'));
  const retryAfterS = Number.isFinite(retry) && retry > 0 ? retry : undefined;
  try {
    const body = (await response.json()) as Partial<ErrorBody>;
    if (body.error) return new ApiProblem(response.status, body.error.code, body.error.message, retryAfterS);
  } catch {
    // Not JSON (a proxy in front, a crash): fall through to the status line.
  }
  return new ApiProblem(response.status, 'HTTP_' + response.status, `the server answered ${response.status} ${response.statusText}`, retryAfterS);
}

function formOf(files: readonly File[], options: UploadOptions): FormData {
  const form = new FormData();
  // Options first: the proxy reads fields as they stream, before the (large) files.
  form.set('format', options.format);
  if (options.onlyMask) form.set('only_mask', 'true');
  if (options.bgcolor !== null) form.set('bgcolor', options.bgcolor);
  for (const file of files) form.append('file', file, file.name);
  return form;
}

/** The proxy's /v1 API as the page uses it, with the API key added when one is needed. */
export class Api {
  private asking: Promise<string | null> | undefined;

  constructor(
    private readonly keys: KeyStore,
    private readonly prompt: KeyPrompt,
  ) {}

  /** One prompt at a time: uploads that all hit 401 together wait for the same answer. */
  private askForKey(reason: 'needed' | 'rejected'): Promise<string | null> {
    this.asking ??= this.prompt(reason).finally(() => (this.asking = undefined));
    return this.asking;
  }

  /** fetch with the key; on 401 UNAUTHENTICATED asks for a key and tries again with it. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    for (;;) {
      const key = this.keys.get();
      const headers = new Headers(init.headers);
      if (key !== null) headers.set('X-Api-Token', key);
      const response = await fetch(path, { ...init, headers });
      if (response.ok) return response;
      const problem = await problemOf(response);
      if (problem.code !== 'UNAUTHENTICATED') throw problem;
      if (key !== null && this.keys.get() === key) this.keys.set(null);
      const entered = await this.askForKey(key === null ? 'needed' : 'rejected');
      if (entered === null) throw problem;
      this.keys.set(entered);
    }
  }

  async createJob(file: File, options: UploadOptions): Promise<V1Job> {
    const response = await this.request('/v1/jobs', { method: 'POST', body: formOf([file], options) });
    return (await response.json()) as V1Job;
  }

  async createGroup(files: readonly File[], options: UploadOptions): Promise<CreatedGroup> {
    const response = await this.request('/v1/groups', { method: 'POST', body: formOf(files, options) });
    const body = (await response.json()) as { id: string; jobs: (string | { id: string })[] };
    return { id: body.id, jobs: body.jobs.map((job) => (typeof job === 'string' ? job : job.id)) };
  }

  /** The job once it has ended, or as it is after WAIT_S seconds. */
  async waitForJob(id: string): Promise<V1Job> {
    const response = await this.request(`/v1/jobs/${encodeURIComponent(id)}?wait=${WAIT_S}`);
    return (await response.json()) as V1Job;
  }

  async result(id: string): Promise<Blob> {
    return (await this.request(`/v1/jobs/${encodeURIComponent(id)}/result`)).blob();
  }

  async groupZip(id: string): Promise<Blob> {
    return (await this.request(`/v1/groups/${encodeURIComponent(id)}/results.zip`)).blob();
  }

  /** Whether this proxy has POST /v1/groups and the zip (it lists them in /openapi.json, which needs no key). */
  async hasGroups(): Promise<boolean> {
    try {
      const response = await fetch('/openapi.json');
      if (!response.ok) return false;
      const paths = ((await response.json()) as { paths?: Record<string, unknown> }).paths ?? {};
      return '/v1/groups' in paths && '/v1/groups/{id}/results.zip' in paths;
    } catch {
      return false;
    }
  }
}
