/** `paypipe config` flags as commander hands them to the action (wired in ./command.ts). */
export interface ConfigFlags {
  env: string;
  project?: string;
  region?: string;
  schema?: boolean;
}
