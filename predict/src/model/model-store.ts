import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CatalogueEntry, Checksum } from './catalogue.js';

/** The folder of named models (CUTOUT_MODELS_DIR): `<dir>/<preset>.onnx`. */
export function storedModelPath(modelsDir: string, preset: string): string {
  return join(modelsDir, `${preset}.onnx`);
}

export interface FileDigest {
  readonly size: number;
  readonly md5: string;
  readonly sha256: string;
}

/** md5 and sha256 in one read: rembg publishes md5 for most files, sha256 for some, and we show sha256. */
export async function digestFile(path: string): Promise<FileDigest> {
  return digestChunks(createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>);
}

/** digestFile's figures for bytes read some other way (an open file handle); each chunk is used before the next is asked for. */
export async function digestChunks(chunks: AsyncIterable<Buffer>): Promise<FileDigest> {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  let size = 0;
  for await (const chunk of chunks) {
    md5.update(chunk);
    sha256.update(chunk);
    size += chunk.length;
  }
  return { size, md5: md5.digest('hex'), sha256: sha256.digest('hex') };
}

/** The accepted checksum a digest matches, if any. */
export function matchingChecksum(digest: FileDigest, accepted: readonly Checksum[]): Checksum | undefined {
  return accepted.find((c) => digest[c.algorithm] === c.hex.toLowerCase());
}

export type StoredState = 'missing' | 'ok' | 'mismatch';

export interface StoredModel {
  readonly preset: string;
  readonly path: string;
  readonly state: StoredState;
  readonly digest?: FileDigest;
  /** The checksum it matched (state ok). */
  readonly matched?: Checksum;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Whether `<dir>/<preset>.onnx` is there and is one of the files the catalogue accepts. */
export async function checkStoredModel(modelsDir: string, entry: Pick<CatalogueEntry, 'preset' | 'checksums'>): Promise<StoredModel> {
  const path = storedModelPath(modelsDir, entry.preset);
  if (!isFile(path)) return { preset: entry.preset, path, state: 'missing' };
  const digest = await digestFile(path);
  const matched = matchingChecksum(digest, entry.checksums);
  return matched ? { preset: entry.preset, path, state: 'ok', digest, matched } : { preset: entry.preset, path, state: 'mismatch', digest };
}

function checksumText(c: Checksum): string {
  return `${c.algorithm} ${c.hex}`;
}

/**
 * How to put a model in place without the CLI's download: the same words for predict's refusal to
 * start and for a pull that cannot reach the network.
 */
export function manualInstallAdvice(modelsDir: string, entry: Pick<CatalogueEntry, 'preset' | 'url' | 'checksums'>, suggestPull = true): string {
  const path = storedModelPath(modelsDir, entry.preset);
  const main = entry.checksums[0];
  return (
    (suggestPull ? `run \`npx cutout-models pull ${entry.preset}\`, or download` : 'download') +
    ` ${entry.url} by hand (from a machine that can reach it) and save it as ${path}` +
    (main ? ` (its ${checksumText(main)})` : '') +
    `, then check it with \`npx cutout-models verify\`; or set MODEL=${entry.preset}:/path/to/file.onnx`
  );
}
