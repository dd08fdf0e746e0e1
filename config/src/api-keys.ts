import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MIN_API_KEY_LENGTH } from './defaults.js';

/** An API key and the name jobs record and logs show (never the key itself). */
export interface ApiKey {
  readonly name: string;
  readonly key: string;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

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

/** API_KEYS_FILE: one `<name> <key>` a line; blank lines and lines starting with # are skipped. */
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
    if (!name || !key || rest.length > 0 || !NAME.test(name)) {
      problems.push(`${where}: expected "<name> <key>" with a name of letters, digits, ".", "_" or "-"`);
      return;
    }
    if (checkKey(key, where, problems)) keys.push({ name, key });
  });
  return keys;
}

/** Both sources together; every problem is reported (a key's text never is). */
export function readApiKeys(list: string | undefined, file: string | undefined, problems: string[]): ApiKey[] {
  const keys = [...(list ? fromList(list, problems) : []), ...(file ? fromFile(file, problems) : [])];
  const seen = new Set<string>();
  for (const { name } of keys) {
    if (seen.has(name)) problems.push(`API keys: the name ${JSON.stringify(name)} is given twice (or a key is listed twice)`);
    seen.add(name);
  }
  return keys;
}
