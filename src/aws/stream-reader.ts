/** Kept for existing importers: the stream reader now lives in kinesis.ts with every other Kinesis call. */
export { readStream } from './kinesis.js';
