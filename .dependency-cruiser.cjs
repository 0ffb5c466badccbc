/**
 * The layer rules of DESIGN.md ("Module layout"), checked by `npm run lint:deps` (part of
 * `npm test`). Layers, top to bottom; a module may import its own folder and the layers below:
 *
 *   cli                      commands, reporters            (nothing imports cli)
 *   review                   the proofing server (gpt4k review): drives engine/watch
 *   index.ts                 the programmatic API
 *   engine                   executor, executions, pools, watch
 *   steps                    one runner per node kind
 *   graph                    nodes, keys, plan
 *   providers | upscalers | color | report | cache     plugins and services
 *   prompt                   prompt lint (reads the manifest)
 *   manifest                 loading, validation, types
 *   util                     results, errors, atomic writes
 *
 * Imports of types count too (tsPreCompilationDeps): a type-only cycle is still a cycle.
 * .dependency-cruiser-known-violations.json (read by `--ignore-known`) is empty: every cycle or
 * backward import fails. manifest/ reaches the backends through manifest/backends.ts (see
 * docs/architecture.md).
 */
const above = (folders) => `^src/(${folders.join('|')})/|^src/index\\.ts$`;

/** What each folder must not import: everything above it. */
const layers = {
  review: ['cli'],
  engine: ['cli', 'review'],
  steps: ['cli', 'review', 'engine'],
  graph: ['cli', 'review', 'engine', 'steps'],
  providers: ['cli', 'review', 'engine', 'steps', 'graph', 'upscalers', 'color', 'report', 'cache', 'prompt'],
  upscalers: ['cli', 'review', 'engine', 'steps', 'graph', 'providers', 'color', 'report', 'cache', 'prompt'],
  color: ['cli', 'review', 'engine', 'steps', 'graph', 'providers', 'upscalers', 'cache', 'prompt'],
  report: ['cli', 'review', 'engine', 'steps', 'graph', 'providers', 'upscalers', 'color', 'cache', 'prompt'],
  cache: ['cli', 'review', 'engine', 'steps', 'graph', 'providers', 'upscalers', 'color', 'report', 'prompt', 'manifest'],
  prompt: ['cli', 'review', 'engine', 'steps', 'graph', 'providers', 'upscalers', 'color', 'report', 'cache'],
  manifest: ['cli', 'review', 'engine', 'steps', 'graph', 'providers', 'upscalers', 'color', 'report', 'cache', 'prompt'],
  util: ['cli', 'review', 'engine', 'steps', 'graph', 'providers', 'upscalers', 'color', 'report', 'cache', 'prompt', 'manifest'],
};

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'A file cycle: two modules that need each other belong in one, or a third below both.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      comment: 'cli/ is the top layer: the programmatic API (index.ts) and everything else stand without it.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'index-is-the-api',
      severity: 'error',
      comment: 'src/index.ts is the public API: no module of gpt4k imports it.',
      from: { path: '^src/', pathNot: '^src/(cli/|index\\.ts$)' },
      to: { path: '^src/index\\.ts$' },
    },
    ...Object.entries(layers).map(([folder, forbiddenFolders]) => ({
      name: `${folder}-layer`,
      severity: 'error',
      comment: `${folder}/ must not import a layer above it (${forbiddenFolders.join(', ')}): dependencies point one way (docs/architecture.md).`,
      from: { path: `^src/${folder}/` },
      to: { path: above(forbiddenFolders) },
    })),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.generated\\.ts$' },
  },
};
