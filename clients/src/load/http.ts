import { Agent, request, type Dispatcher, type FormData } from 'undici';

/** Why one load request did not succeed: a stable code for the table, and the details. */
export class LoadFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'LoadFailure';
  }
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when the answer was JSON; otherwise undefined (the bytes were read and dropped). */
  json: unknown;
  bytes: number;
}

export interface HttpOptions {
  baseUrl: string;
  apiKey: string | undefined;
}

/** The longest ?wait= the proxy honours; a long poll's answer comes within it plus a margin. */
export const LONG_POLL_S = 30;
const ANSWER_TIMEOUT_MS = (LONG_POLL_S + 30) * 1000;

function failureOf(error: unknown, signal: AbortSignal): LoadFailure {
  if (signal.aborted) return new LoadFailure('TIMEOUT', 'gave up: the request took longer than --timeout');
  const err = error as { code?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : 'NETWORK';
  const refused = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'UND_ERR_CONNECT_TIMEOUT';
  return new LoadFailure(refused ? 'UNREACHABLE' : 'NETWORK', typeof err.message === 'string' ? `${code}: ${err.message}` : String(error));
}

/**
 * One keep-alive agent for the whole run. It has no cap on connections: in open-loop mode every
 * request in flight holds one (most of them in a long poll), and a cap would queue new requests
 * behind old ones, which is exactly the waiting -T must not do.
 */
export class Http {
  readonly agent: Dispatcher;

  constructor(private readonly options: HttpOptions) {
    this.agent = new Agent({ keepAliveTimeout: 60_000, headersTimeout: ANSWER_TIMEOUT_MS, bodyTimeout: ANSWER_TIMEOUT_MS, connectTimeout: 10_000 });
  }

  async call(method: 'GET' | 'POST', path: string, signal: AbortSignal, body?: { json: unknown } | { bytes: Buffer; type: string } | { form: FormData }): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json, image/*' };
    if (this.options.apiKey !== undefined) headers['x-api-token'] = this.options.apiKey;
    let payload: string | Buffer | FormData | undefined;
    if (body && 'json' in body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body && 'bytes' in body) {
      headers['content-type'] = body.type;
      payload = body.bytes;
    } else if (body) {
      payload = body.form;
    }
    try {
      const res = await request(`${this.options.baseUrl}${path}`, { method, headers, body: payload, signal, dispatcher: this.agent });
      const type = String(res.headers['content-type'] ?? '');
      if (type.startsWith('application/json')) {
        const text = await res.body.text();
        return { status: res.statusCode, headers: res.headers, json: JSON.parse(text), bytes: text.length };
      }
      const buffer = await res.body.arrayBuffer();
      return { status: res.statusCode, headers: res.headers, json: undefined, bytes: buffer.byteLength };
    } catch (error) {
      throw failureOf(error, signal);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** The proxy's error code and message from a non-success answer, or HTTP_<status>. */
export function failureFrom(answer: Answer, what: string): LoadFailure {
  const error = (answer.json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${answer.status}`;
  const message = typeof error?.message === 'string' ? error.message : `${what} answered ${answer.status}`;
  return new LoadFailure(code, message);
}
