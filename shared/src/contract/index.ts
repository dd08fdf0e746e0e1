export * from './error-catalogue.js';
export * from './status.js';
export * from './options.js';
export * from './wire.schema.js';
export * from './views.js';
