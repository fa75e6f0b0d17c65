export * from '../../core/status.js';
export * from '../../core/tags.js';
export * from './replies.js';
export * from './request-codes.js';
export * from '../../core/message.js';
export * from '../../core/message-codec.js';
export * from './validation.js';
export * from '../../core/hash.js';
