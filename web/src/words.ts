import type { ErrorCode } from '@cutout/shared/contract';
import { ApiProblem } from './api.js';

const TOO_LARGE: readonly ErrorCode[] = ['IMAGE_TOO_LARGE', 'BODY_TOO_LARGE', 'TOO_MANY_PIXELS'];
const NOT_AN_IMAGE: readonly ErrorCode[] = ['UNSUPPORTED_IMAGE_FORMAT', 'IMAGE_DECODE_FAILED', 'IMAGE_TRUNCATED', 'EMPTY_IMAGE', 'INVALID_DIMENSIONS'];
const BUSY: readonly ErrorCode[] = ['QUEUE_FULL', 'KEY_QUEUE_FULL'];

const has = (codes: readonly string[], code: string) => codes.includes(code);

/** A short title for an error, then the API's own message, which says what to do. */
export function describeProblem(error: unknown): { title: string; detail: string } {
  if (!(error instanceof ApiProblem)) {
    // fetch rejects only when no answer arrived at all.
    return { title: 'No answer from the server', detail: 'Check that cutout is still running, then try again.' };
  }
  const detail = error.message;
  if (has(TOO_LARGE, error.code)) return { title: 'Too large', detail };
  if (has(NOT_AN_IMAGE, error.code)) return { title: 'Not an image cutout can read', detail };
  if (has(BUSY, error.code)) {
    const when = error.retryAfterS === undefined ? 'in a moment' : `in ${error.retryAfterS} s`;
    return { title: `The queue is full: try again ${when}`, detail };
  }
  if (error.code === 'UNAUTHENTICATED') return { title: 'An API key is needed', detail };
  if (error.code === 'JOB_NOT_FOUND') return { title: 'This job is gone (it expired or the server was reset)', detail };
  return { title: 'Something went wrong', detail };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** "photo.jpg" → "photo-cutout.png": the name a download is saved under. */
export function downloadName(fileName: string, format: string, onlyMask: boolean): string {
  const stem = fileName.replace(/\.[^./]+$/, '') || 'image';
  return `${stem}-${onlyMask ? 'mask' : 'cutout'}.${format}`;
}
