/**
 * The one-way architecture, checked on every `npm test`:
 *   koa, nest, cli -> store -> core;  core imports nothing else in lib/.
 * core owns the SessionStore port and MemoryStore; store is "talks to
 * DynamoDB" and knows nothing of HTTP; the two framework adapters never meet.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle makes load order matter and hides which room owns what.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment: 'core defines the ports the others implement; it must not reach out of itself.',
      from: { path: '^lib/core/' },
      to: { path: ['^lib/(?!core/)', '^node_modules/(koa|@koa|@nestjs|express|fastify|rxjs|@aws-sdk|@smithy)/', '^node_modules/@types/(koa|koa__router|express)'] },
    },
    {
      name: 'store-knows-no-http',
      severity: 'error',
      comment: 'The store talks to DynamoDB only: no adapter, no CLI, no web framework, no HTTP server, not even for types.',
      from: { path: '^lib/store/' },
      to: { path: ['^lib/(?!core/|store/)', '^node_modules/(koa|@koa|@nestjs|express|fastify|rxjs)/', '^node_modules/@types/(koa|koa__router|express)', '^(node:)?(http|https|http2)$'] },
    },
    {
      name: 'koa-and-nest-never-meet',
      severity: 'error',
      from: { path: '^lib/koa/' },
      to: { path: '^(lib/nest/|node_modules/@nestjs/)' },
    },
    {
      name: 'nest-and-koa-never-meet',
      severity: 'error',
      from: { path: '^lib/nest/' },
      to: { path: '^(lib/koa/|node_modules/koa/)' },
    },
    {
      name: 'adapters-use-no-cli',
      severity: 'error',
      from: { path: '^lib/(koa|nest)/' },
      to: { path: '^lib/cli/' },
    },
    {
      name: 'cli-is-not-an-adapter',
      severity: 'error',
      comment: 'The table CLI works on the store; it has no business with the HTTP adapters.',
      from: { path: '^lib/cli/' },
      to: { path: '^lib/(koa|nest)/' },
    },
    {
      name: 'lib-never-imports-tests-or-tools',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^(spec|sample-app|bench|tools)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.build.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
