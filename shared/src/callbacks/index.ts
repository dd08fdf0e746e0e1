export { startCallbackDeliverer, type CallbackSettings } from './start.js';
export { CallbackDeliverer, type CallbackDelivererOptions } from './deliverer.js';
export { OutboxRepository, type ClaimedCallback, type DeadCallback, type SettleResult } from './outbox.repository.js';
export { signCallback, verifyCallback } from './signature.js';
