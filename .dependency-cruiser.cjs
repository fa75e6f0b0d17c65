/**
 * The import rule (ARCHITECTURE.md, "Layers"): imports run one way. `npm test` runs this through
 * test/architecture/import-rules.test.ts, so a backwards import fails the suite.
 */
const ROLES = '(namesrv|broker|producer|consumer|controller)';

module.exports = {
  forbidden: [
    {
      name: 'core-is-ground',
      comment: 'core/ is the ground layer: it imports nothing of the project.',
      severity: 'error',
      from: { path: '^core/' },
      to: { path: '^(actors|store|transports|scenarios|bin|bench|test|index)', },
    },
    {
      name: 'store-only-core',
      comment: 'store/ imports only core/ (and itself).',
      severity: 'error',
      from: { path: '^store/' },
      to: { path: '^(actors|transports|scenarios|bin|bench|test|index)' },
    },
    {
      name: 'transports-only-core',
      comment: 'transports/ imports only core/ (and itself).',
      severity: 'error',
      from: { path: '^transports/' },
      to: { path: '^(actors|store|scenarios|bin|bench|test|index)' },
    },
    {
      name: 'actors-below-the-top',
      comment: 'actors/ never imports what is built on it (scenarios, the CLI, benchmarks, tests, the package entry).',
      severity: 'error',
      from: { path: '^actors/' },
      to: { path: '^(scenarios|bin|bench|test|index)' },
    },
    {
      name: 'no-sideways-roles',
      comment: 'A role never imports another role: what two roles share lives in actors/protocol, actors/client or actors/runtime.',
      severity: 'error',
      from: { path: `^actors/${ROLES}/` },
      to: { path: `^actors/${ROLES}/`, pathNot: '^actors/$1/' },
    },
    {
      name: 'shared-below-roles',
      comment: 'actors/protocol and actors/client serve the roles and import none of them.',
      severity: 'error',
      from: { path: '^actors/(protocol|client)/' },
      to: { path: `^actors/${ROLES}/` },
    },
    {
      name: 'runtime-below-roles',
      comment: 'actors/runtime hosts actors and knows no role: the roles are spawned by the package entry (index.ts).',
      severity: 'error',
      from: { path: '^actors/runtime/' },
      to: { path: `^actors/(client|${ROLES})/` },
    },
    {
      name: 'protocol-below-runtime-and-client',
      comment: 'actors/protocol holds wire types and pure rules: it imports only core/, the frame types of transports/ and itself.',
      severity: 'error',
      from: { path: '^actors/protocol/' },
      to: { path: '^(actors/(runtime|client)|store)/' },
    },
    {
      name: 'observe-below-the-top',
      comment: 'observe/ (observation sources, the console, metrics) builds on actors/ and serves index.ts, scenarios, the CLI and benchmarks.',
      severity: 'error',
      from: { path: '^observe/' },
      to: { path: '^(scenarios|bin|bench|test|index)' },
    },
    {
      name: 'actors-below-observe',
      severity: 'error',
      from: { path: '^(actors|store|transports|core)/' },
      to: { path: '^observe/' },
    },
    {
      name: 'scenarios-below-bin-and-bench',
      severity: 'error',
      from: { path: '^scenarios/' },
      to: { path: '^(bin|bench|test)/' },
    },
    {
      name: 'nothing-imports-tests',
      severity: 'error',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-unresolvable',
      comment: 'Every relative import resolves to a file.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, path: '^[.]' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
