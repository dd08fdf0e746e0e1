export { DEFAULTS, LOG_LEVELS, type LogLevel } from './defaults.js';
export { loadConfig, loadConfigOrExit, ConfigError, type Config, type Env } from './config.js';
