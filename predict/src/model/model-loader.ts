import ort from 'onnxruntime-node';
import { ModelConfigError, parseModelSpec, type ModelSpec } from './model-spec.js';
import type { ModelPreset } from './presets.js';

export type Shape = readonly (number | string)[];

export interface LoadOptions {
  /** onnxruntime intra-op threads per session; 0 leaves onnxruntime's default (one per core). */
  intraOpThreads?: number;
}

/** A model ready to run: its session, the names and shapes it was checked against, and close(). */
export interface LoadedModel {
  readonly name: string;
  readonly preset: ModelPreset;
  readonly source: 'built-in' | 'file';
  readonly path: string;
  readonly session: ort.InferenceSession;
  readonly inputName: string;
  readonly outputName: string;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  /** The height and width images are resized to. */
  readonly inputSize: { readonly width: number; readonly height: number };
  readonly intraOpThreads: number;
  readonly loadMs: number;
  /** Releases the session; safe to call twice. */
  close(): Promise<void>;
}

function pick(spec: ModelSpec, kind: 'input' | 'output', names: readonly string[], fixed: string | undefined): string {
  const name = fixed ?? names[0];
  if (name === undefined || !names.includes(name)) {
    const want = fixed ? `an ${kind} named "${fixed}"` : `at least one ${kind}`;
    throw new ModelConfigError(spec.value, `the model has ${kind}s [${names.join(', ')}] but the ${spec.preset.name} preset needs ${want}; pick the preset that matches the model`);
  }
  return name;
}

function shapeOf(metadata: readonly ort.InferenceSession.ValueMetadata[], name: string): Shape {
  const entry = metadata.find((m) => m.name === name);
  return entry?.isTensor ? entry.shape : [];
}

/** Checks the input is NCHW with 3 channels and works out the size to resize to. */
function inputSizeOf(spec: ModelSpec, shape: Shape): { width: number; height: number } {
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

async function createSession(spec: ModelSpec, intraOpThreads: number): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(spec.path, intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads } : {});
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ModelConfigError(spec.value, `${spec.path} is not an ONNX model onnxruntime can load (${reason}); point MODEL at a valid .onnx file`);
  }
}

/**
 * Parses MODEL (when given as a string), opens one onnxruntime session and checks the model fits
 * its preset. Every problem is a ModelConfigError naming MODEL.
 */
export async function loadModel(model: string | ModelSpec, options: LoadOptions = {}): Promise<LoadedModel> {
  const spec = typeof model === 'string' ? parseModelSpec(model) : model;
  const intraOpThreads = options.intraOpThreads ?? 0;
  const started = performance.now();
  const session = await createSession(spec, intraOpThreads);
  try {
    const inputName = pick(spec, 'input', session.inputNames, spec.preset.inputName);
    const outputName = pick(spec, 'output', session.outputNames, spec.preset.outputName);
    const inputShape = shapeOf(session.inputMetadata, inputName);
    const inputSize = inputSizeOf(spec, inputShape);
    let released = false;
    return {
      name: spec.name,
      preset: spec.preset,
      source: spec.source,
      path: spec.path,
      session,
      inputName,
      outputName,
      inputShape,
      outputShape: shapeOf(session.outputMetadata, outputName),
      inputSize,
      intraOpThreads,
      loadMs: Math.round((performance.now() - started) * 10) / 10,
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
