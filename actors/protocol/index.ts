export * from './status.js';
export * from './tags.js';
export * from './replies.js';
export * from './request-codes.js';
export * from './message.js';
export * from './message-codec.js';
export * from './validation.js';
export * from './hash.js';
