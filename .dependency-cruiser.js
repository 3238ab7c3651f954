/**
 * The import rule of the source tree (README, Layout): each folder of src/ is a floor and imports only from the
 * floors below it (or from inside its own folder); nothing imports in a cycle; src/ never imports tests,
 * benchmarks or data; tests and benchmarks never import each other.
 */
const FLOORS = ['ops', 'io', 'kernels', 'backends', 'layers', 'delta', 'models', 'stream', 'pipeline', 'queue', 'cli'];

const upward = FLOORS.slice(0, -1).map((floor, i) => ({
  name: `no-upward-from-${floor}`,
  comment: `src/${floor}/ may import only from ${
    FLOORS.slice(0, i)
      .map((f) => `src/${f}/`)
      .join(', ') || 'nothing else in src/'
  }`,
  severity: 'error',
  from: {path: `^src/${floor}/`},
  to: {path: `^src/(${FLOORS.slice(i + 1).join('|')})/|^src/index\\.ts$`},
}));

module.exports = {
  forbidden: [
    {name: 'no-circular', severity: 'error', from: {}, to: {circular: true}},
    ...upward,
    {
      name: 'cli-is-the-top',
      comment: 'src/cli/ may use the public API (src/index.ts), nothing imports the command line',
      severity: 'error',
      from: {path: '^(src|data|test|benchmarks)/', pathNot: '^src/cli/|^test/cli/'},
      to: {path: '^src/cli/', pathNot: '^src/cli/chart\\.ts$'},
    },
    {
      name: 'src-stands-alone',
      severity: 'error',
      from: {path: '^src/'},
      to: {path: '^(test|benchmarks|data)/'},
    },
    {name: 'data-stands-alone', severity: 'error', from: {path: '^data/'}, to: {path: '^(test|benchmarks)/'}},
    {name: 'tests-not-benchmarks', severity: 'error', from: {path: '^test/'}, to: {path: '^benchmarks/'}},
    {name: 'benchmarks-not-tests', severity: 'error', from: {path: '^benchmarks/'}, to: {path: '^test/'}},
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    exclude: {path: '^(dist|node_modules)/'},
    tsConfig: {fileName: 'tsconfig.json'},
    tsPreCompilationDeps: true,
  },
};
