import ort from 'onnxruntime-node';
import type { GraphOptimizationLevel } from '@cutout/config';
import { ModelConfigError, parseModelSpec, type ModelSpec, type ParseOptions } from './model-spec.js';
import { digestFile, manualInstallAdvice, matchingChecksum, type FileDigest } from './model-store.js';
import type { CatalogueEntry, Checksum } from './catalogue.js';
import { warmUpGraphcut } from './graphcut/warm-up.js';
import type { ModelPreset, Shape, TensorSignature } from './presets.js';
import { isPassthrough, loadPassthrough } from './passthrough.js';
import { errorMessage } from '@cutout/shared';

export type { Shape, TensorSignature } from './presets.js';

/** onnxruntime session settings; every field has a default that suits any core count. */
export interface LoadOptions {
  /**
   * Let onnxruntime's idle threads spin for work (its own default). Off here: on a small machine
   * shared with batch, proxy and Redis, spinning burnt about a third more CPU per image for ~2 ms
   * less latency.
   */
  threadSpinning?: boolean;
  /** Threads one inference may use; 0 (default) leaves onnxruntime's choice, one per physical core. */
  intraOpThreads?: number;
  /**
   * Threads running independent branches of the graph at once; 0 (default) leaves onnxruntime's
   * choice. Above 0 it also switches the session to parallel execution, the only mode that uses them.
   */
  interOpThreads?: number;
  /** Graph rewrites at load time; default 'all'. 'disabled' loads fastest and runs slowest. */
  graphOptimizationLevel?: GraphOptimizationLevel;
}

/** The session settings a model was loaded with, as /metadata reports them. */
export interface SessionSettings {
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
  readonly graphOptimizationLevel: GraphOptimizationLevel;
  readonly executionMode: 'sequential' | 'parallel';
  readonly threadSpinning: boolean;
}

/** A model ready to run: its session, the names and shapes it was checked against, and close(). */
export interface LoadedModel {
  readonly name: string;
  readonly preset: ModelPreset;
  readonly source: 'built-in' | 'store' | 'file';
  readonly path: string;
  /** Size and checksums of the file loaded, read at load time. */
  readonly digest: FileDigest;
  /** For a named model from the store: where it comes from, and the published checksum it matched. */
  readonly catalogue?: CatalogueEntry;
  readonly matched?: Checksum;
  readonly session: ort.InferenceSession;
  /** The model's first input and first output: the ones fed and read, as rembg does. */
  readonly inputName: string;
  readonly outputName: string;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  /** Every input and output the model declares, in order. */
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
  /** The height and width images are resized to. */
  readonly inputSize: { readonly width: number; readonly height: number };
  /** True when the first input's batch dimension is symbolic, so several images may share one run. */
  readonly supportsBatching: boolean;
  readonly settings: SessionSettings;
  /** Same as settings.intraOpThreads; kept for callers written before settings existed. */
  readonly intraOpThreads: number;
  readonly loadMs: number;
  /** Releases the session; safe to call twice. */
  close(): Promise<void>;
}

function signatures(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorSignature[] {
  return metadata.map((m) => ({ name: m.name, shape: m.isTensor ? [...m.shape] : [] }));
}

function first(spec: ModelSpec, kind: 'input' | 'output', list: readonly TensorSignature[]): TensorSignature {
  const entry = list[0];
  if (!entry) throw new ModelConfigError(spec.value, `the model has no ${kind}; point MODEL at a background-removal model`);
  return entry;
}

/** Checks the input is NCHW with 3 channels and works out the size to resize to. */
function inputSizeOf(spec: ModelSpec, shape: Shape): { width: number; height: number } {
  // The graph-cut model's ONNX part is its full-size upscale, not a network fed a resized image.
  if (spec.preset.kind === 'graphcut') return { width: spec.preset.size, height: spec.preset.size };
  const fix = 'use a model whose input is float32 [batch, 3, height, width]';
  if (shape.length !== 0 && shape.length !== 4) {
    throw new ModelConfigError(spec.value, `the model's input has rank ${shape.length} (shape [${shape.join(', ')}]); ${fix}`);
  }
  if (typeof shape[1] === 'number' && shape[1] !== 3) {
    throw new ModelConfigError(spec.value, `the model's input has ${shape[1]} channels; ${fix}`);
  }
  const fixedOr = (dim: number | string | undefined) => (typeof dim === 'number' && dim > 0 ? dim : spec.preset.size);
  return { height: fixedOr(shape[2]), width: fixedOr(shape[3]) };
}

/**
 * onnxruntime reports a named dimension by its name and an unnamed or -1 one as ''; either means
 * any batch size. A rank-unknown input is not trusted with batches.
 */
function batchIsDynamic(shape: Shape): boolean {
  const batch = shape[0];
  return typeof batch === 'string' || (typeof batch === 'number' && batch < 0);
}

export function sessionSettings(options: LoadOptions): SessionSettings {
  const intraOpThreads = options.intraOpThreads ?? 0;
  const interOpThreads = options.interOpThreads ?? 0;
  return {
    intraOpThreads,
    interOpThreads,
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    executionMode: interOpThreads > 0 ? 'parallel' : 'sequential',
    threadSpinning: options.threadSpinning ?? false,
  };
}

function sessionOptions(settings: SessionSettings): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: settings.graphOptimizationLevel,
    executionMode: settings.executionMode,
    // 0 would also mean "default" to onnxruntime, but leaving the key out keeps that explicit.
    ...(settings.intraOpThreads > 0 ? { intraOpNumThreads: settings.intraOpThreads } : {}),
    ...(settings.interOpThreads > 0 ? { interOpNumThreads: settings.interOpThreads } : {}),
    // Session config entries, flattened by onnxruntime-node into "session.intra_op.allow_spinning" etc.
    extra: { session: { intra_op: { allow_spinning: settings.threadSpinning ? '1' : '0' }, inter_op: { allow_spinning: settings.threadSpinning ? '1' : '0' } } },
  };
}

async function createSession(spec: ModelSpec, settings: SessionSettings): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(spec.path, sessionOptions(settings));
  } catch (error) {
    const reason = errorMessage(error).split('\n')[0];
    throw new ModelConfigError(spec.value, `${spec.path} is not an ONNX model onnxruntime can load (${reason}); point MODEL at a valid .onnx file`);
  }
}

/**
 * A named model must be the file its catalogue publishes: a truncated or different file would load
 * (or not) and cut badly without saying why, so predict refuses it with the way to fix it.
 */
async function checkedDigest(spec: ModelSpec): Promise<{ digest: FileDigest; matched?: Checksum }> {
  const digest = await digestFile(spec.path);
  if (spec.source !== 'store' || !spec.catalogue) return { digest };
  const matched = matchingChecksum(digest, spec.catalogue.checksums);
  if (matched) return { digest, matched };
  const expected = spec.catalogue.checksums.map((c) => `${c.algorithm} ${c.hex}`).join(' or ');
  throw new ModelConfigError(
    spec.value,
    `${spec.path} is corrupt or not the published file (${digest.size} bytes, sha256 ${digest.sha256}; expected ${expected}); delete it and ` +
      manualInstallAdvice(spec.modelsDir ?? '', spec.catalogue),
  );
}

function describe(spec: ModelSpec, session: ort.InferenceSession, settings: SessionSettings, started: number): Omit<LoadedModel, 'close' | 'digest'> {
  const inputs = signatures(session.inputMetadata);
  const outputs = signatures(session.outputMetadata);
  const input = first(spec, 'input', inputs);
  const output = first(spec, 'output', outputs);
  return {
    name: spec.name,
    preset: spec.preset,
    source: spec.source,
    path: spec.path,
    session,
    inputName: input.name,
    outputName: output.name,
    inputShape: input.shape,
    outputShape: output.shape,
    inputs,
    outputs,
    inputSize: inputSizeOf(spec, input.shape),
    supportsBatching: spec.preset.kind === 'onnx' && batchIsDynamic(input.shape),
    ...(spec.catalogue ? { catalogue: spec.catalogue } : {}),
    settings,
    intraOpThreads: settings.intraOpThreads,
    loadMs: Math.round((performance.now() - started) * 10) / 10,
  };
}

/**
 * Parses MODEL (when given as a string), opens one onnxruntime session and checks the model fits
 * its preset. Every problem is a ModelConfigError naming MODEL.
 */
export async function loadModel(model: string | ModelSpec, options: LoadOptions & ParseOptions = {}): Promise<LoadedModel> {
  const spec = typeof model === 'string' ? parseModelSpec(model, options) : model;
  const settings = sessionSettings(options);
  if (isPassthrough(spec)) return loadPassthrough(spec, settings);
  const started = performance.now();
  const { digest, matched } = await checkedDigest(spec);
  const session = await createSession(spec, settings);
  if (spec.preset.kind === 'graphcut') warmUpGraphcut(spec.preset.size);
  try {
    const described = { ...describe(spec, session, settings, started), digest, ...(matched ? { matched } : {}) };
    let released = false;
    return {
      ...described,
      async close() {
        if (released) return;
        released = true;
        await session.release();
      },
    };
  } catch (error) {
    await session.release().catch(() => undefined);
    throw error;
  }
}
