import type { GetJobResponse } from '@cutout/shared/contract';
/** Small JSON-over-HTTP helpers for talking to the stack the way a client would. */
export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<JsonResponse<T>> {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: (await res.json()) as T };
}

export async function postJson<T = Record<string, unknown>>(
  url: string,
  body: unknown,
  init: { raw?: boolean; contentType?: string } = {},
): Promise<JsonResponse<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': init.contentType ?? 'application/json' },
    body: init.raw ? (body as string | Uint8Array) : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${url} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

/** GET /get_job's answer, from the contract module. */
export type JobView = GetJobResponse;

/** Polls get_job until the job is finished; no fixed sleep beyond a short poll interval. */
export async function waitForJob(proxyUrl: string, jobId: string, maxWaitMs = 120_000): Promise<JobView> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const { status, body } = await getJson<JobView>(`${proxyUrl}/get_job/${jobId}`);
    if (status !== 200) throw new Error(`get_job ${jobId} answered ${status}: ${JSON.stringify(body)}`);
    if (body.job_status === 'SUCCEEDED' || body.job_status === 'FAILED') return body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${body.job_status} after ${maxWaitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
