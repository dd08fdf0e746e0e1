/**
 * `@cutout/predict/models`: the model catalogue, the store's file checks and the preset table, without
 * onnxruntime or sharp, for the cutout-models CLI.
 */
export { CATALOGUE, NPM_ISNET, catalogueEntry, type CatalogueEntry, type Checksum, type HashAlgorithm } from './catalogue.js';
export { checkStoredModel, digestChunks, digestFile, manualInstallAdvice, matchingChecksum, storedModelPath, type FileDigest, type StoredModel, type StoredState } from './model-store.js';
export { MODEL_PRESETS, BUILT_IN_MODEL_FILES, DEFAULT_PRESET, findPreset, type ModelPreset } from './presets.js';
