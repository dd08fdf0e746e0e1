import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MIN_API_KEY_LENGTH, MIN_CALLBACK_SECRET_LENGTH } from './defaults.js';

/** The priorities a job may ask for, highest first. */
export const KEY_PRIORITIES = ['high', 'normal', 'low'] as const;
export type KeyPriority = (typeof KEY_PRIORITIES)[number];

/**
 * An API key, the name jobs record and logs show (never the key itself), and the settings an
 * API_KEYS_FILE line may give it (CONTRACT §13). A setting left out falls back to the
 * deployment's: API_KEY_MAX_QUEUED, every priority, CALLBACK_SECRET.
 */
export interface ApiKey {
  readonly name: string;
  readonly key: string;
  /** max_queued=N: this key's most unfinished jobs (0: no limit), instead of API_KEY_MAX_QUEUED. */
  readonly maxQueued?: number;
  /** priorities=high,normal: the only priorities this key's jobs may ask for. */
  readonly priorities?: readonly KeyPriority[];
  /** callback_secret=S: signs this key's callbacks instead of CALLBACK_SECRET. */
  readonly callbackSecret?: string;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const SETTING = /^([a-z_]+)=(.*)$/;
const FILE_LINE = '"<name> <key> [max_queued=N] [priorities=high,normal,low] [callback_secret=S]"';

/** A key from API_KEYS has no name of its own: a short digest names it, stable across restarts and reorderings. */
export function nameOfKey(key: string): string {
  return `key-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

function checkKey(key: string, where: string, problems: string[]): boolean {
  if (key.length >= MIN_API_KEY_LENGTH && !/\s/.test(key)) return true;
  problems.push(`${where}: each key must be at least ${MIN_API_KEY_LENGTH} characters without spaces (the key itself is not shown)`);
  return false;
}

function fromList(text: string, problems: string[]): ApiKey[] {
  const keys = text.split(',').map((k) => k.trim()).filter((k) => k !== '');
  return keys.filter((key, i) => checkKey(key, `API_KEYS entry ${i + 1}`, problems)).map((key) => ({ name: nameOfKey(key), key }));
}

type Settings = { maxQueued?: number; priorities?: readonly KeyPriority[]; callbackSecret?: string };

/** One `name=value` after the key; the problem is pushed (a secret's value never shown) and nothing set when it is bad. */
function readSetting(word: string, where: string, settings: Settings, problems: string[]): void {
  const match = SETTING.exec(word);
  const [name, value] = match ? [match[1]!, match[2]!] : ['', ''];
  if (name === 'max_queued') {
    if (/^\d{1,9}$/.test(value)) settings.maxQueued = Number(value);
    else problems.push(`${where}: max_queued=${JSON.stringify(value.slice(0, 20))} must be a whole number (0 for no limit)`);
  } else if (name === 'priorities') {
    const given = value.split(',').filter((p) => p !== '');
    const bad = given.filter((p) => !(KEY_PRIORITIES as readonly string[]).includes(p));
    if (given.length === 0 || bad.length > 0) problems.push(`${where}: priorities=${JSON.stringify(value.slice(0, 40))} must list some of ${KEY_PRIORITIES.join(', ')}, comma-separated`);
    else settings.priorities = KEY_PRIORITIES.filter((p) => given.includes(p));
  } else if (name === 'callback_secret') {
    if (value.length >= MIN_CALLBACK_SECRET_LENGTH) settings.callbackSecret = value;
    else problems.push(`${where}: callback_secret must be at least ${MIN_CALLBACK_SECRET_LENGTH} characters (it is not shown)`);
  } else {
    // The word may be a key or a secret typed in the wrong place: only a setting's name is shown.
    const shown = match ? `setting ${JSON.stringify(name.slice(0, 20))}` : 'word after the key (not shown)';
    problems.push(`${where}: unknown ${shown}; expected ${FILE_LINE}`);
  }
}

/** API_KEYS_FILE: one key a line with its settings; blank lines and lines starting with # are skipped. */
function fromFile(path: string, problems: string[]): ApiKey[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(`API_KEYS_FILE=${JSON.stringify(path)}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    return [];
  }
  const keys: ApiKey[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const [name, key, ...rest] = trimmed.split(/\s+/);
    const where = `API_KEYS_FILE line ${i + 1}`;
    if (!name || !key || !NAME.test(name)) {
      problems.push(`${where}: expected ${FILE_LINE} with a name of letters, digits, ".", "_" or "-"`);
      return;
    }
    const settings: Settings = {};
    const before = problems.length;
    for (const word of rest) readSetting(word, where, settings, problems);
    if (checkKey(key, where, problems) && problems.length === before) keys.push({ name, key, ...settings });
  });
  return keys;
}

/** Both sources together; every problem is reported (a key's or a secret's text never is). */
export function readApiKeys(list: string | undefined, file: string | undefined, problems: string[]): ApiKey[] {
  const keys = [...(list ? fromList(list, problems) : []), ...(file ? fromFile(file, problems) : [])];
  const seen = new Set<string>();
  for (const { name } of keys) {
    if (seen.has(name)) problems.push(`API keys: the name ${JSON.stringify(name)} is given twice (or a key is listed twice)`);
    seen.add(name);
  }
  return keys;
}
