import type { V1Job } from '@cutout/shared/contract';
import { Api, ApiProblem, type UploadOptions } from './api.js';
import { Card } from './card.js';
import { dialogKeyPrompt, localKeyStore } from './key-store.js';
import { JobWatcher } from './poller.js';
import { formatBytes } from './words.js';
import { DownloadAll } from './download-all.js';

/** Uploads sent at once; the rest wait their turn so long polls and downloads keep a connection. */
const UPLOAD_SLOTS = 2;

const $ = <T extends Element>(selector: string): T => {
  const found = document.querySelector<T>(selector);
  if (!found) throw new Error(`the page has no ${selector}`);
  return found;
};

const input = $<HTMLInputElement>('input[type=file][name=file]');
const drop = $<HTMLElement>('[data-drop]');
const list = $<HTMLOListElement>('[data-cards]');
const optionsForm = $<HTMLFormElement>('[data-options]');
const api = new Api(localKeyStore(), dialogKeyPrompt($<HTMLDialogElement>('[data-key-dialog]')));
const groupsReady = api.hasGroups();
const downloads = new DownloadAll($<HTMLButtonElement>('[data-download-all]'), $<HTMLElement>('[data-summary]'), api);

const watcher = new JobWatcher(api, (card, job) => void finished(card, job));

async function finished(card: Card, job: V1Job): Promise<void> {
  if (job.status === 'SUCCEEDED') {
    try {
      card.showResult(await api.result(job.id), job);
    } catch (error) {
      card.trouble(error);
    }
  }
  downloads.refresh();
}

/** The options as they are now: they apply to the uploads that start from here on. */
function currentOptions(): UploadOptions {
  const data = new FormData(optionsForm);
  return {
    format: data.get('format') === 'webp' ? 'webp' : 'png',
    onlyMask: data.get('only_mask') === 'on',
    bgcolor: data.get('use_bgcolor') === 'on' ? String(data.get('bgcolor')) : null,
  };
}

/** A tiny queue: at most UPLOAD_SLOTS uploads run; the others start as those end. */
const waiting: (() => Promise<void>)[] = [];
let uploading = 0;
function pumpUploads(): void {
  while (uploading < UPLOAD_SLOTS && waiting.length > 0) {
    const next = waiting.shift()!;
    uploading += 1;
    void next().finally(() => {
      uploading -= 1;
      pumpUploads();
    });
  }
}
function enqueueUpload(task: () => Promise<void>): void {
  waiting.push(task);
  pumpUploads();
}

function accepted(card: Card, job: V1Job, groupId?: string): void {
  card.groupId = groupId;
  card.update(job);
  watcher.watch(card);
}

async function uploadOne(card: Card, options: UploadOptions): Promise<void> {
  try {
    accepted(card, await api.createJob(card.file, options));
  } catch (error) {
    card.reject(error);
  }
  downloads.refresh();
}

/** Many files as one group (CONTRACT §6), so "download all" is one zip; one by one if the group is refused. */
async function uploadGroup(cards: Card[], options: UploadOptions): Promise<void> {
  try {
    const group = await api.createGroup(cards.map((c) => c.file), options);
    cards.forEach((card, i) => {
      const id = group.jobs[i];
      if (id === undefined) return card.reject(new ApiProblem(500, 'INTERNAL', 'the group answer lists fewer jobs than files', undefined));
      const job: V1Job = { id, status: 'QUEUED', created_at: null, started_at: null, finished_at: null, attempts: 0, options: { format: options.format, only_mask: options.onlyMask, bgcolor: options.bgcolor, post_process_mask: false, priority: 'normal', deadline_s: null, callback_url: null } };
      accepted(card, job, group.id);
    });
    downloads.addGroup(group.id, cards);
  } catch (error) {
    // One bad file refuses the whole group; sent one by one, each file gets its own answer.
    if (error instanceof ApiProblem && error.status < 500 && error.code !== 'UNAUTHENTICATED') {
      for (const card of cards) enqueueUpload(() => uploadOne(card, options));
    } else {
      for (const card of cards) card.reject(error);
    }
  }
  downloads.refresh();
}

async function addFiles(files: readonly File[]): Promise<void> {
  if (files.length === 0) return;
  const options = currentOptions();
  const cards = files.map((file) => new Card(file));
  for (const card of cards) {
    list.prepend(card.root);
    downloads.add(card);
  }
  list.closest('section')?.removeAttribute('hidden');
  if (cards.length > 1 && (await groupsReady)) enqueueUpload(() => uploadGroup(cards, options));
  else for (const card of cards) enqueueUpload(() => uploadOne(card, options));
}

input.addEventListener('change', () => {
  void addFiles([...(input.files ?? [])]);
  input.value = ''; // choosing the same file again still fires change
});

// Dropping anywhere on the page works; the zone lights up while something is dragged over.
let dragDepth = 0;
document.addEventListener('dragenter', (event) => {
  if (!event.dataTransfer?.types.includes('Files')) return;
  dragDepth += 1;
  drop.classList.add('dragging');
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) drop.classList.remove('dragging');
});
document.addEventListener('dragover', (event) => event.preventDefault());
document.addEventListener('drop', (event) => {
  event.preventDefault();
  dragDepth = 0;
  drop.classList.remove('dragging');
  // Not filtered by type: for a file that is not an image the server says so, in words.
  void addFiles([...(event.dataTransfer?.files ?? [])]);
});

// Nothing here is sent by submitting a form: Enter in a field must not reload the page.
optionsForm.addEventListener('submit', (event) => event.preventDefault());

// The bgcolor picker means something only while its box is ticked.
const useBg = $<HTMLInputElement>('input[name=use_bgcolor]');
const bg = $<HTMLInputElement>('input[name=bgcolor]');
const syncBg = () => (bg.disabled = !useBg.checked);
useBg.addEventListener('change', syncBg);
syncBg();

const limit = Number(document.querySelector<HTMLMetaElement>('meta[name=cutout-max-image-bytes]')?.content);
if (limit > 0) $<HTMLElement>('[data-limit]').textContent = `up to ${formatBytes(limit)} each`;
