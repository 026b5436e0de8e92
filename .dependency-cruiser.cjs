// Architecture rules, checked in CI (`npm run arch`). The layers, bottom up:
//   domain (payments, pure) → pipeline (what describes the pipeline, pure) → aws (the only SDK caller)
//   → lambdas, infra, local → cli (one folder per feature).
// A lower layer never imports a higher one; features never reach into each other.
const PURE_NODE = '^(node:)?(zlib|stream|crypto|buffer|string_decoder|util)$';
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'Import cycles make the dataflow unreadable.', from: {}, to: { circular: true } },
    {
      name: 'sdk-only-in-aws',
      severity: 'error',
      comment: 'Only src/aws calls the AWS SDK: one place for clients, retries, pagination and errors.',
      from: { path: '^src/', pathNot: '^src/aws/' },
      // Matched on the resolved path; type-only imports count too (src/aws re-exports the types).
      to: { path: 'node_modules/(@aws-sdk/|@smithy/)' },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'src/domain is payments only: no I/O, no other layer.',
      from: { path: '^src/domain/' },
      to: { pathNot: ['^src/domain/', '^src/errors\\.ts$', PURE_NODE] },
    },
    {
      name: 'pipeline-is-pure',
      severity: 'error',
      comment: 'src/pipeline describes the pipeline; it reads no files and calls no service.',
      from: { path: '^src/pipeline/' },
      to: { pathNot: ['^src/(pipeline|domain)/', '^src/errors\\.ts$', PURE_NODE, '^zod$', 'node_modules/zod/'] },
    },
    {
      name: 'aws-below-runtimes',
      severity: 'error',
      comment: 'src/aws serves lambdas, local and cli; it never imports them (nor the stack).',
      from: { path: '^src/aws/' },
      to: { path: '^src/(lambdas|local|cli|infra)/' },
    },
    {
      name: 'lambdas-stand-alone',
      severity: 'error',
      comment: 'The functions are bundled for AWS: they may use aws, pipeline and domain only.',
      from: { path: '^src/lambdas/' },
      to: { path: '^src/(local|cli|infra)/' },
    },
    {
      name: 'infra-describes-only',
      severity: 'error',
      comment: 'The stack is built from the config; it does not call AWS or reuse CLI code.',
      from: { path: '^src/infra/' },
      to: { path: '^src/(aws|local|cli|lambdas)/' },
    },
    {
      name: 'local-below-cli',
      severity: 'error',
      comment: 'The local pipeline is a runtime the CLI drives, never the other way round.',
      from: { path: '^src/local/' },
      to: { path: '^src/(cli|infra)/' },
    },
    {
      name: 'features-are-separate',
      severity: 'error',
      comment: "A CLI feature uses src/cli's shared files (io, options, target, render) and lower layers, not another feature's internals.",
      from: { path: '^src/cli/([^/]+)/' },
      to: { path: '^src/cli/[^/]+/', pathNot: '^src/cli/($1|render)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.mjs'] },
    moduleSystems: ['es6', 'cjs'],
  },
};
