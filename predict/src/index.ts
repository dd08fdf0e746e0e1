export { createApp, type AppDeps } from './app.js';
export { jsonBodyLimit, type PredictRouteDeps } from './predict.routes.js';
export { removeBackground, type CutoutResult, type StageTimings, type RemoveBackgroundOptions } from './pipeline/remove-background.js';
export { loadModel, sessionSettings, type LoadedModel, type LoadOptions, type SessionSettings, type Shape } from './model/model-loader.js';
export { parseModelSpec, ModelConfigError, type ModelSpec } from './model/model-spec.js';
export {
  MODEL_PRESETS,
  BUILT_IN_MODEL_FILES,
  DEFAULT_PRESET,
  PRESET_ALIASES,
  findPreset,
  type ModelPreset,
  type PublishedSignature,
  type TensorSignature,
  type PixelScale,
  type MaskPostprocess,
  type ModelKind,
  type ResizeKernel,
} from './model/presets.js';
export {
  InferenceBatcher,
  BatcherClosedError,
  runAlone,
  supportsBatching,
  describeBatching,
  type BatcherOptions,
  type BatchableModel,
  type InferenceResult,
} from './pipeline/batcher.js';
export { postProcessMask, postProcessMaskSync } from './pipeline/post-process-mask.js';
export { pilLanczosResize } from './pipeline/pil-resize.js';
export { CATALOGUE, catalogueEntry, type CatalogueEntry, type Checksum } from './model/catalogue.js';
