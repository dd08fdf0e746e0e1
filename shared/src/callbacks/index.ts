export { startCallbackDeliverer, callbackSecrets, type CallbackSettings } from './start.js';
export { CallbackDeliverer, secretFor, type CallbackDelivererOptions, type CallbackSecrets } from './deliverer.js';
export { OutboxRepository, decodeClaim, type ClaimedCallback, type ClaimResult, type DeadCallback, type SettleResult, type SettleOptions, type OutboxRepositoryOptions } from './outbox.repository.js';
export { signCallback, verifyCallback } from './signature.js';
