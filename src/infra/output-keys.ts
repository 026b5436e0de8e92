/** The stack's output keys now live in src/pipeline/output-keys.ts (the CLI reads them too); kept for importers. */
export { STACK_OUTPUT_KEYS, type StackOutputKey } from '../pipeline/output-keys.js';
