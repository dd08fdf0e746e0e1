import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import type { JobRecord } from '@cutout/shared';
import { DEFAULT_JOB_OPTIONS } from '@cutout/shared/contract';
import { toJobView, writeJobView } from './job-views.js';

/** Collects what writeJobView writes and the headers it sets. */
function recorder() {
  const chunks: Buffer[] = [];
  const headers: Record<string, string> = {};
  const res = {
    statusCode: 0,
    setHeader: (name: string, value: string) => (headers[name.toLowerCase()] = value),
    cork: () => undefined,
    write: (chunk: Buffer | string) => chunks.push(Buffer.from(chunk)),
    end: (chunk?: Buffer | string) => {
      if (chunk !== undefined) chunks.push(Buffer.from(chunk));
    },
  };
  return { res: res as unknown as ServerResponse, headers, body: () => Buffer.concat(chunks), status: () => res.statusCode };
}

const base: JobRecord = {
  id: '0b6a3f0e-6a53-4b8e-9d7c-3f0f5c6f7a10',
  status: 'SUCCEEDED',
  priority: 'normal',
  group: null,
  callbackUrl: null,
  createdAt: 1_764_579_600_000,
  startedAt: 1_764_579_600_010,
  finishedAt: 1_764_579_600_050,
  attempts: 1,
  options: DEFAULT_JOB_OPTIONS,
  owner: null,
  error: null,
  lastError: null,
  lease: null,
  retryAt: null,
  outputWrites: 1,
  imageInBase64: 'iVBORw0KGgo=',
  imageOutBase64: 'iVBORw0KGgoAAAANSUhEUg==',
  timings: { predict_ms: 3.5, queue_wait_ms: 1 } as JobRecord['timings'],
};

const cases: [string, JobRecord][] = [
  ['succeeded', base],
  ['queued (no output yet)', { ...base, status: 'QUEUED', startedAt: null, finishedAt: null, attempts: 0, imageOutBase64: null, timings: null }],
  ['running', { ...base, status: 'RUNNING', finishedAt: null, imageOutBase64: null, timings: null }],
  ['failed', { ...base, status: 'FAILED', error: { code: 'BAD_IMAGE', message: 'a "quoted" \\ reason\n' }, imageOutBase64: null, timings: null }],
  ['cancelled', { ...base, status: 'CANCELLED', error: null, imageOutBase64: null, timings: null }],
  ['succeeded with its input expired', { ...base, imageInBase64: null }],
  ['succeeded, output gone', { ...base, imageOutBase64: null }],
  ['an image that needs escaping', { ...base, imageInBase64: 'ab"c\\d\ne' }],
  ['a large image, written in pieces', { ...base, imageOutBase64: 'QUJD'.repeat(40_000) }],
];

for (const [name, record] of cases) {
  test(`writeJobView writes exactly JSON.stringify(toJobView(record)): ${name}`, () => {
    const r = recorder();
    const bytes = (s: string | null) => (s === null ? null : Buffer.from(s));
    writeJobView(r.res, { record: { ...record, imageInBase64: null, imageOutBase64: null }, imageIn: bytes(record.imageInBase64), imageOut: bytes(record.imageOutBase64) });
    const expected = JSON.stringify(toJobView(record));
    assert.equal(r.body().toString(), expected);
    assert.equal(r.status(), 200);
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(expected)));
  });
}

test('writeJobView for HEAD sets the same headers and writes no body', () => {
  const r = recorder();
  writeJobView(r.res, { record: base, imageIn: Buffer.from('QUJD'), imageOut: Buffer.from('REVG') }, true);
  assert.equal(r.body().length, 0);
  assert.equal(r.headers['content-length'], String(Buffer.byteLength(JSON.stringify(toJobView({ ...base, imageInBase64: 'QUJD', imageOutBase64: 'REVG' })))));
});
