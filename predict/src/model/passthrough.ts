import type ort from 'onnxruntime-node';
import type { LoadedModel, SessionSettings } from './model-loader.js';
import type { ModelSpec } from './model-spec.js';
import type { ModelPreset } from './presets.js';

/**
 * MODEL=passthrough (CONTRACT §7): no model at all. Every pixel is kept, fully opaque; nothing is
 * resized and onnxruntime is never called, so what is left to measure is the serving stack, as
 * Triton's identity models let one measure Triton.
 */
export const PASSTHROUGH = 'passthrough';

export const PASSTHROUGH_PRESET: ModelPreset = Object.freeze<ModelPreset>({
  name: PASSTHROUGH,
  description: 'no model: the mask is fully opaque (255 everywhere), no resize, no onnxruntime call; measures the serving stack itself',
  size: 0,
  scale: 'unit',
  mean: [0, 0, 0],
  std: [1, 1, 1],
  postprocess: 'none',
  kind: 'onnx',
  resize: 'lanczos3',
});

export function isPassthrough(model: { readonly preset: ModelPreset }): boolean {
  return model.preset === PASSTHROUGH_PRESET;
}

export function passthroughSpec(value: string): ModelSpec {
  return { value, name: PASSTHROUGH, preset: PASSTHROUGH_PRESET, path: '', source: 'built-in' };
}

/** Stands in for the session nothing should run; a call would be a bug in the pipeline, so it says so. */
const NO_SESSION = {
  inputNames: [],
  outputNames: [],
  inputMetadata: [],
  outputMetadata: [],
  run: () => Promise.reject(new Error('MODEL=passthrough has no model to run')),
  release: () => Promise.resolve(),
} as unknown as ort.InferenceSession;

export function loadPassthrough(spec: ModelSpec, settings: SessionSettings): LoadedModel {
  return {
    name: spec.name,
    preset: spec.preset,
    source: 'built-in',
    path: '',
    session: NO_SESSION,
    inputName: '',
    outputName: '',
    inputShape: [],
    outputShape: [],
    inputs: [],
    outputs: [],
    inputSize: { width: 0, height: 0 },
    supportsBatching: false,
    settings,
    intraOpThreads: settings.intraOpThreads,
    loadMs: 0,
    // No file: an empty digest, so /metadata's checksum section says there is nothing to check.
    digest: { size: 0, md5: '', sha256: '' },
    close: () => Promise.resolve(),
  };
}
