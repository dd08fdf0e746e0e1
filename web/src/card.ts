import type { V1Job, V1Status } from '@cutout/shared/contract';
import { describeProblem, downloadName, formatBytes, formatSeconds } from './words.js';

/** What the badge says for each /v1 status; uploading and rejected happen before there is a job. */
const BADGE: Record<V1Status | 'UPLOADING' | 'REJECTED', string> = {
  UPLOADING: 'Uploading',
  QUEUED: 'Queued',
  RUNNING: 'Working',
  SUCCEEDED: 'Done',
  FAILED: 'Failed',
  CANCELLED: 'Cancelled',
  REJECTED: 'Not accepted',
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * One uploaded image: its thumbnail at once, its status while it waits, and when done the cutout
 * over a checkerboard with a before/after slider and a download link. The element carries the
 * CONTRACT §8 hooks: data-job-id and data-status (the job's /v1 status).
 */
export class Card {
  readonly root = el('li', 'card');
  private readonly stage = el('div', 'stage');
  private readonly badge = el('span', 'badge', BADGE.UPLOADING);
  private readonly meta = el('p', 'meta');
  private readonly actions = el('div', 'actions');
  private readonly objectUrls: string[] = [];
  job: V1Job | undefined;
  groupId: string | undefined;
  /** The cutout's link once SUCCEEDED. */
  download: HTMLAnchorElement | undefined;

  constructor(readonly file: File) {
    const before = el('img', 'before');
    before.src = this.track(URL.createObjectURL(file));
    before.alt = `Original: ${file.name}`;
    this.stage.append(before, this.badge);
    this.badge.setAttribute('role', 'status');
    const name = el('p', 'name', file.name);
    name.title = file.name;
    this.meta.textContent = formatBytes(file.size);
    const body = el('div', 'body');
    body.append(name, this.meta, this.actions);
    this.root.append(this.stage, body);
    this.root.dataset.phase = 'UPLOADING';
  }

  private track(url: string): string {
    this.objectUrls.push(url);
    return url;
  }

  private setPhase(phase: keyof typeof BADGE): void {
    this.root.dataset.phase = phase;
    this.badge.textContent = BADGE[phase];
  }

  /** The proxy accepted the upload or reported on the job. */
  update(job: V1Job): void {
    this.job = job;
    this.root.dataset.jobId = job.id;
    this.root.dataset.status = job.status;
    this.setPhase(job.status);
    if (job.status !== 'FAILED' && job.status !== 'CANCELLED') this.root.querySelector('.error')?.remove();
    else {
      this.showError(job.error ? { title: job.status === 'FAILED' ? 'The cutout failed' : 'Cancelled', detail: job.error.message } : { title: 'The cutout failed', detail: '' });
    }
  }

  /** The upload itself was refused (too large, not an image, queue full, ...): there is no job. */
  reject(error: unknown): void {
    this.setPhase('REJECTED');
    this.showError(describeProblem(error));
  }

  /** Something went wrong after the job was made (fetching the result, the job expired). */
  trouble(error: unknown): void {
    this.showError(describeProblem(error));
  }

  private showError({ title, detail }: { title: string; detail: string }): void {
    this.root.querySelector('.error')?.remove();
    const box = el('div', 'error');
    box.setAttribute('role', 'alert');
    box.append(el('strong', '', title));
    if (detail !== '') box.append(el('span', '', detail));
    this.actions.before(box);
  }

  /** The finished cutout: shown over a checkerboard, compared with the original, offered for download. */
  showResult(blob: Blob, job: V1Job): void {
    const url = this.track(URL.createObjectURL(blob));
    const after = el('div', 'after');
    const cutout = el('img', '');
    cutout.src = url;
    cutout.alt = `Cutout of ${this.file.name}`;
    after.append(cutout);
    this.stage.insertBefore(after, this.badge);
    this.stage.classList.add('compare');
    const slider = el('input', 'slider');
    slider.type = 'range';
    slider.min = '0';
    slider.max = '100';
    slider.value = '50';
    slider.setAttribute('aria-label', `Before and after: drag left to see more of the cutout of ${this.file.name}`);
    const place = () => this.stage.style.setProperty('--split', `${slider.value}%`);
    slider.addEventListener('input', place);
    place();
    this.stage.append(slider);

    const took = job.finished_at !== null && job.created_at !== null ? Date.parse(job.finished_at) - Date.parse(job.created_at) : NaN;
    const parts = [formatBytes(blob.size), Number.isFinite(took) ? `took ${formatSeconds(took)}` : ''];
    cutout.addEventListener('load', () => {
      this.meta.textContent = [`${cutout.naturalWidth}×${cutout.naturalHeight}`, ...parts].filter(Boolean).join(' · ');
    });
    this.meta.textContent = parts.filter(Boolean).join(' · ');

    const link = el('a', 'button', 'Download');
    link.href = url;
    link.download = downloadName(this.file.name, job.options.format, job.options.only_mask);
    link.setAttribute('aria-label', `Download the cutout of ${this.file.name}`);
    this.actions.append(link);
    this.download = link;
  }

  get ended(): boolean {
    const status = this.job?.status;
    return this.root.dataset.phase === 'REJECTED' || status === 'SUCCEEDED' || status === 'FAILED' || status === 'CANCELLED';
  }

  /** Frees the object URLs (the original and the cutout) when the card is removed. */
  dispose(): void {
    for (const url of this.objectUrls.splice(0)) URL.revokeObjectURL(url);
    this.root.remove();
  }
}
