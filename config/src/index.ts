export { DEFAULTS, COMPOSE_DEFAULT_PREDICT_TOKEN, LOG_LEVELS, GRAPH_OPTIMIZATION_LEVELS, type LogLevel, type GraphOptimizationLevel } from './defaults.js';
export { loadConfig, loadConfigOrExit, resolveModelsDir, ConfigError, type Config, type Env } from './config.js';
export { nameOfKey, KEY_PRIORITIES, type ApiKey, type KeyPriority } from './api-keys.js';
export { isLoopbackAddress } from './loopback.js';
