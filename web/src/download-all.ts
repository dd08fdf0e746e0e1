import type { Api } from './api.js';
import type { Card } from './card.js';

/** Gap between saves: Chromium drops downloads started in the same instant. */
const BETWEEN_SAVES_MS = 300;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function save(url: string, name: string): void {
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
}

/**
 * The "download all" button: one zip per group (GET /v1/groups/{id}/results.zip) for images
 * uploaded together, and each cutout's own file for the rest. It also keeps the count line current.
 */
export class DownloadAll {
  private readonly cards: Card[] = [];
  private readonly groups = new Map<string, Card[]>();

  constructor(
    private readonly button: HTMLButtonElement,
    private readonly summary: HTMLElement,
    private readonly api: Api,
  ) {
    button.addEventListener('click', () => void this.run());
    this.refresh();
  }

  add(card: Card): void {
    this.cards.push(card);
    this.refresh();
  }

  addGroup(id: string, cards: Card[]): void {
    this.groups.set(id, cards);
  }

  refresh(): void {
    const done = this.cards.filter((c) => c.download !== undefined).length;
    const ended = this.cards.filter((c) => c.ended).length;
    const failed = ended - done;
    const open = this.cards.length - ended;
    const parts = [`${done} done`, open > 0 ? `${open} in progress` : '', failed > 0 ? `${failed} failed` : ''];
    this.summary.textContent = this.cards.length === 0 ? '' : parts.filter(Boolean).join(' · ');
    this.button.disabled = done === 0 || this.button.dataset.busy === 'true';
    this.button.textContent = done > 1 ? `Download all (${done})` : 'Download all';
  }

  private async run(): Promise<void> {
    this.button.dataset.busy = 'true';
    this.refresh();
    try {
      const zipped = new Set<Card>();
      for (const [id, members] of this.groups) {
        // A zip holds what has succeeded when it is asked for, so wait until the group has ended.
        if (!members.every((c) => c.ended) || !members.some((c) => c.download)) continue;
        try {
          const url = URL.createObjectURL(await this.api.groupZip(id));
          save(url, `cutouts-${id.slice(0, 8)}.zip`);
          setTimeout(() => URL.revokeObjectURL(url), 60_000);
          members.forEach((c) => zipped.add(c));
          await pause(BETWEEN_SAVES_MS);
        } catch {
          // No zip after all: its images are saved one by one below.
        }
      }
      for (const card of this.cards) {
        if (zipped.has(card) || !card.download) continue;
        save(card.download.href, card.download.download);
        await pause(BETWEEN_SAVES_MS);
      }
    } finally {
      delete this.button.dataset.busy;
      this.refresh();
    }
  }
}
