// Test support shared by the packages' tests; not part of the services' runtime API.
export { memoryLogger, type LogLine } from './memory-logger.js';
export { TcpRelay, type TcpRelayTarget } from './tcp-relay.js';
export { startTestRedis, stopTestRedis } from './test-redis.js';
export { pngBomb, pngWithData, zeroPng, zerosZlib, type PngHeader } from './png-bomb.js';
export { recordingReceiver, type SeenDelivery } from './recording-receiver.js';
