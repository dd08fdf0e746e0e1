export { startStack, localUrl, REPO_ROOT, StackStartError, type StackHandle, type StackOptions, type StackPids, type ServiceName } from './stack.js';
export { EntryMissingError, type ServiceExit } from './service-process.js';
export { formatLogLine, type LogFormatOptions } from './log-format.js';
