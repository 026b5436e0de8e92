/** Kept for existing importers: the Kinesis sender now lives in kinesis.ts with every other Kinesis call. */
export {
  type FailedRecord,
  type SendOptions,
  type SendProgress,
  type SendRecord,
  SendStoppedError,
  type SendSummary,
  sendRecords,
  unsentRecordsOf,
} from './kinesis.js';
