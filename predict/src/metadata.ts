import type { LoadedModel } from './model/model-loader.js';
import type { ModelPreset } from './model/presets.js';
import { isPassthrough } from './model/passthrough.js';

export interface MetadataLimits {
  maxImageBytes: number;
  maxImagePixels: number;
}

/** Extra sections the caller knows and the model does not, e.g. the batcher's limits. */
export interface MetadataExtras {
  batching?: Record<string, unknown>;
}

function scaleText(preset: ModelPreset): string {
  return preset.scale === 'unit' ? 'divide by 255' : 'divide by the largest value of the resized image over all channels (at least 1e-6)';
}

function maskText(preset: ModelPreset): string {
  switch (preset.postprocess) {
    case 'none':
      return 'first output, channel 0, used as is (0..1), ×255 rounded and clamped';
    case 'minmax':
      return 'first output, channel 0, min-max normalised, ×255 truncated to 8 bits';
    case 'sigmoid-minmax':
      return 'first output, channel 0, sigmoid, then min-max normalised, ×255 truncated to 8 bits';
  }
}

/** MODEL=passthrough's /metadata: the same sections, saying that no model runs. */
function describePassthrough(model: LoadedModel, limits: MetadataLimits, extras: MetadataExtras): Record<string, unknown> {
  return {
    status: 'ok',
    model: { name: model.name, preset: model.preset.name, description: model.preset.description, source: 'none', load_ms: model.loadMs },
    input: null,
    output: null,
    signature: { inputs: [], outputs: [], published: null },
    preprocessing: { colour: 'sRGB RGB, 8-bit, EXIF orientation applied, input alpha dropped', resize: null },
    postprocessing: { mask: 'fully opaque: 255 everywhere, no model runs', kind: 'passthrough', resize: null, output: 'PNG, RGBA, 8-bit' },
    session: null,
    batching: { batch_size: 1, supports_batching: false, ...extras.batching },
    limits: { max_image_bytes: limits.maxImageBytes, max_image_pixels: limits.maxImagePixels },
  };
}

function resizeText(preset: ModelPreset): string {
  return preset.resize === 'pil-lanczos' ? "Pillow's LANCZOS (as rembg), re-implemented" : 'lanczos3 (libvips)';
}

/** Where the model file comes from, under which licence, and the checksum of the file loaded. */
function provenance(model: LoadedModel): Record<string, unknown> {
  const { catalogue, digest, matched } = model;
  const checksum = { size_bytes: digest.size, sha256: digest.sha256, md5: digest.md5 };
  if (model.source === 'built-in') {
    return { origin: 'built by this project (predict/src/model/)', licence: 'MIT (this project)', file: model.path, checksum };
  }
  if (!catalogue) return { origin: 'a file named in MODEL', licence: 'unknown: see where the file came from', file: model.path, checksum };
  return {
    origin: catalogue.origin,
    licence: catalogue.licence,
    url: catalogue.url,
    rembg_session: `rembg/sessions/${catalogue.sessionFile}`,
    file: model.path,
    checksum,
    matched: matched ? { algorithm: matched.algorithm, hex: matched.hex, source: matched.source ?? catalogue.url } : null,
  };
}

/** The GET /metadata body: what the model is, its real signature, and how images are fed to it. */
export function describeModel(model: LoadedModel, limits: MetadataLimits, extras: MetadataExtras = {}): Record<string, unknown> {
  if (isPassthrough(model)) return describePassthrough(model, limits, extras);
  const { preset, inputSize, settings } = model;
  const threads = (n: number) => (n > 0 ? n : 'onnxruntime default');
  return {
    status: 'ok',
    model: { name: model.name, preset: preset.name, kind: preset.kind, description: preset.description, source: model.source, load_ms: model.loadMs, ...provenance(model) },
    input: { name: model.inputName, type: 'float32', layout: 'NCHW', shape: model.inputShape },
    output: { name: model.outputName, shape: model.outputShape },
    signature: { inputs: model.inputs, outputs: model.outputs, published: preset.published ?? null },
    preprocessing: {
      colour: 'sRGB RGB, 8-bit, EXIF orientation applied, input alpha dropped',
      resize:
        preset.kind === 'graphcut'
          ? { long_side: preset.size, kernel: 'lanczos3 (libvips)', keep_aspect: true }
          : { width: inputSize.width, height: inputSize.height, kernel: resizeText(preset), keep_aspect: false },
      scale: scaleText(preset),
      mean: preset.mean,
      std: preset.std,
      formula: '(value / scale − mean[c]) / std[c]',
    },
    postprocessing: {
      mask: maskText(preset),
      kind: preset.postprocess,
      resize:
        preset.kind === 'graphcut'
          ? 'guided-filter coefficients upsampled bilinearly and applied to the full-size photo (ONNX), joined as alpha'
          : `${resizeText(preset)} back to the input size, joined as alpha onto the input RGB`,
      output: 'PNG, RGBA, 8-bit',
    },
    session: {
      intra_op_threads: threads(settings.intraOpThreads),
      inter_op_threads: threads(settings.interOpThreads),
      graph_optimization: settings.graphOptimizationLevel,
      execution_mode: settings.executionMode,
      thread_spinning: settings.threadSpinning,
    },
    batching: {
      batch_size: 1,
      supports_batching: model.supportsBatching,
      batch_dimension: model.supportsBatching ? 'dynamic' : 'fixed',
      intra_op_threads: threads(settings.intraOpThreads),
      ...extras.batching,
    },
    limits: { max_image_bytes: limits.maxImageBytes, max_image_pixels: limits.maxImagePixels },
  };
}
