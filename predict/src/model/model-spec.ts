import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PASSTHROUGH, passthroughSpec } from './passthrough.js';
import { DEFAULTS, resolveModelsDir } from '@cutout/config';
import { catalogueEntry, type CatalogueEntry } from './catalogue.js';
import { manualInstallAdvice, storedModelPath } from './model-store.js';
import { BUILT_IN_MODEL_FILES, FILE_DEFAULT_PRESET, MODEL_PRESETS, findPreset, type ModelPreset } from './presets.js';

/** A MODEL value that cannot work; the message names MODEL and says how to fix it. */
export class ModelConfigError extends Error {
  constructor(value: string, problem: string) {
    super(`MODEL=${JSON.stringify(value)}: ${problem}`);
    this.name = 'ModelConfigError';
  }
}

/** What MODEL asks for: which preset's conventions, and which file. */
export interface ModelSpec {
  /** The MODEL value as given. */
  readonly value: string;
  /** Shown in logs and /metadata: the preset name for built-ins, else the file name without `.onnx`. */
  readonly name: string;
  readonly preset: ModelPreset;
  readonly path: string;
  /** built-in: ships with predict; store: `<CUTOUT_MODELS_DIR>/<preset>.onnx`, checked against `catalogue` before loading; file: a path in MODEL. */
  readonly source: 'built-in' | 'store' | 'file';
  /** For source store: where the file comes from and the checksums it must match. */
  readonly catalogue?: CatalogueEntry;
  readonly modelsDir?: string;
}

export interface ParseOptions {
  /** CUTOUT_MODELS_DIR as config resolved it; default `~/.cutout/models`. */
  modelsDir?: string;
  /** Tests only: the catalogue entry for a preset, instead of rembg's. */
  catalogue?: (preset: string) => CatalogueEntry | undefined;
}

const PRESET_THEN_PATH = /^([A-Za-z0-9][\w.-]*):(.+)$/;

function presetList(): string {
  return Object.keys(MODEL_PRESETS).join(', ');
}

function checkFile(value: string, path: string, fix: string): string {
  const absolute = resolve(path);
  let isFile = false;
  try {
    isFile = statSync(absolute).isFile();
  } catch {
    // reported below, with the fix
  }
  if (!isFile) throw new ModelConfigError(value, `no model file at ${absolute}; ${fix}`);
  return absolute;
}

function fromFile(value: string, preset: ModelPreset, path: string): ModelSpec {
  const absolute = checkFile(value, path, 'give the path to an existing .onnx file (relative paths start at the working directory)');
  return { value, name: basename(absolute).replace(/\.onnx$/i, ''), preset, path: absolute, source: 'file' };
}

function fromPreset(value: string, preset: ModelPreset, options: ParseOptions): ModelSpec {
  const file = BUILT_IN_MODEL_FILES[preset.name];
  if (file) {
    const path = checkFile(value, fileURLToPath(file), 'the built-in model is missing: run `npm run model:build`');
    return { value, name: preset.name, preset, path, source: 'built-in' };
  }
  const entry = (options.catalogue ?? catalogueEntry)(preset.name);
  if (!entry) throw new ModelConfigError(value, `the ${preset.name} preset has no published file; set MODEL=${preset.name}:/path/to/model.onnx`);
  const modelsDir = options.modelsDir ?? resolveModelsDir(DEFAULTS.CUTOUT_MODELS_DIR);
  const path = checkFile(value, storedModelPath(modelsDir, preset.name), `the ${preset.name} model is not in CUTOUT_MODELS_DIR; ${manualInstallAdvice(modelsDir, entry)}`);
  return { value, name: preset.name, preset, path, source: 'store', catalogue: entry, modelsDir };
}

/**
 * Reads MODEL: a preset name (`cutout-graphcut`, `u2net`: built in, or `<modelsDir>/<preset>.onnx`),
 * a path to an .onnx file that follows cutout-border's conventions (`/models/my.onnx`), or both
 * (`u2net:/models/u2net.onnx`). Preset names are rembg's (`isnet-general-use`, `u2net_human_seg`);
 * the older `isnet` and `birefnet` still work. Checks only what can be checked without reading the
 * file (the loader checks checksums); throws ModelConfigError.
 */
export function parseModelSpec(value: string, options: ParseOptions = {}): ModelSpec {
  const text = value.trim();
  if (text === '') throw new ModelConfigError(value, `empty; use a preset (${presetList()}) or a path to an .onnx file`);
  if (text === PASSTHROUGH) return passthroughSpec(value);
  const preset = findPreset(text);
  if (preset) return fromPreset(value, preset, options);
  const split = PRESET_THEN_PATH.exec(text);
  if (split?.[1] && split[2]) {
    const named = findPreset(split[1]);
    if (named?.kind === 'graphcut') throw new ModelConfigError(value, `${named.name} is built in and takes no file; set MODEL=${named.name}`);
    if (named) return fromFile(value, named, split[2]);
    throw new ModelConfigError(value, `unknown preset "${split[1]}"; use one of ${presetList()}, as MODEL=<preset>:/path/to/model.onnx`);
  }
  if (/[\\/]/.test(text) || /\.onnx$/i.test(text) || existsSync(text)) return fromFile(value, MODEL_PRESETS[FILE_DEFAULT_PRESET]!, text);
  throw new ModelConfigError(value, `unknown preset; use one of ${presetList()}, or a path to an .onnx file`);
}
