/** Kept for existing importers: the stream reader now lives in kinesis.ts with every other Kinesis call. */
export {
  listShards,
  type ReadStreamOptions,
  readStream,
  type ShardInfo,
  type StreamPosition,
  type StreamRecord,
  streamError,
} from './kinesis.js';
