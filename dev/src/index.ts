export { startStack, localUrl, REPO_ROOT, SERVICE_NODE_FLAGS, StackStartError, type StackHandle, type StackOptions, type StackPids, type ServiceName } from './stack.js';
export { EntryMissingError, type ServiceExit } from './service-process.js';
export { formatLogLine, type LogFormatOptions } from './log-format.js';
