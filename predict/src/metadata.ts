import type { LoadedModel } from './model/model-loader.js';

export interface MetadataLimits {
  maxImageBytes: number;
  maxImagePixels: number;
}

/** The GET /metadata body: what the model is and how images are fed to it. */
export function describeModel(model: LoadedModel, limits: MetadataLimits): Record<string, unknown> {
  const { preset, inputSize } = model;
  return {
    status: 'ok',
    model: { name: model.name, preset: preset.name, description: preset.description, source: model.source, load_ms: model.loadMs },
    input: { name: model.inputName, type: 'float32', layout: 'NCHW', shape: model.inputShape },
    output: { name: model.outputName, shape: model.outputShape },
    preprocessing: {
      colour: 'sRGB RGB, 8-bit, EXIF orientation applied, input alpha dropped',
      resize: { width: inputSize.width, height: inputSize.height, kernel: 'lanczos3', keep_aspect: false },
      scale: preset.scale === 'unit' ? 'divide by 255' : 'divide by the largest pixel value of the resized image',
      mean: preset.mean,
      std: preset.std,
    },
    postprocessing: {
      mask: `first output channel, ${preset.postprocess === 'none' ? 'used as is' : preset.postprocess}, clamped to 0..255`,
      resize: 'lanczos3 back to the input size, joined as alpha onto the input RGB',
      output: 'PNG, RGBA, 8-bit',
    },
    batching: {
      batch_size: 1,
      concurrency: 'each request runs its own inference; concurrent requests share one session',
      intra_op_threads: model.intraOpThreads > 0 ? model.intraOpThreads : 'onnxruntime default',
    },
    limits: { max_image_bytes: limits.maxImageBytes, max_image_pixels: limits.maxImagePixels },
  };
}
