/** Kept for existing importers: the Kinesis sender now lives in kinesis.ts with every other Kinesis call. */
export { sendRecords } from './kinesis.js';
