#!/usr/bin/env node
// Bundles the CLI that bin/run.js starts: oclif, the commands, the command_not_found hook
// and the embedded database's worker thread, from tsc's dist/ into dist/bundle/. A
// command otherwise loads some 240 files, most of them oclif's CommonJS, and resolving
// and compiling them one by one is most of its start-up.
//
// Everything lands in one flat directory, so that code which finds files next to itself
// (`new URL('../../sql/', import.meta.url)`, the worker's `./host.js`) finds them from the
// bundle as it does from dist/<folder>/. oclif finds commands by path under
// dist/bundle/commands/, one small file per command that re-exports the bundled class.
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DIST = join(ROOT, 'dist')
const OUT = join(DIST, 'bundle')
const COMMANDS = join(DIST, 'commands')

// Left to Node: packages that find their own files (PGlite's wasm and data, yoga's wasm),
// the ones oclif only asks for when it compiles TypeScript, and the ones only `monitor`,
// `demo`, `serve` and `metrics` load, where start-up is not what is measured.
const EXTERNAL = [
  '@electric-sql/pglite',
  '@electric-sql/pglite/*',
  '@electric-sql/pglite-socket',
  'typescript',
  'ts-node',
  'ink',
  'react',
  'react/*',
  'yoga-layout',
  'hono',
  'hono/*',
  '@hono/*',
  'prom-client',
]

function jsFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? jsFiles(path) : name.endsWith('.js') ? [path] : []
  })
}

/** `saga/list.js` -> `command-saga-list`: a flat name for the bundled command. */
const commandEntryName = (file) => `command-${relative(COMMANDS, file).slice(0, -'.js'.length).split(sep).join('-')}`

const commands = jsFiles(COMMANDS)
const entryPoints = {
  oclif: join(DIST, 'cli', 'oclif.js'),
  'command-not-found': join(DIST, 'cli', 'command-not-found.js'),
  host: join(DIST, 'db', 'embedded', 'host.js'),
  ...Object.fromEntries(commands.map((file) => [commandEntryName(file), file])),
}

rmSync(OUT, { recursive: true, force: true })
await build({
  entryPoints,
  outdir: OUT,
  entryNames: '[name]',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // CommonJS inside an ES module bundle still calls require() for Node's own modules.
  banner: { js: "import { createRequire as __sagactlCreateRequire } from 'node:module'; const require = __sagactlCreateRequire(import.meta.url);" },
  legalComments: 'none',
  // Maps back to dist/ and node_modules/: for `node --enable-source-maps` stack traces and
  // for the benchmarks' CPU profiles (bench/lib/cpuprofile.js), which say where time goes by file.
  sourcemap: 'linked',
  logLevel: 'warning',
})

// esbuild gives a CommonJS package loaded with import() only its default export; such an
// import goes through an ES module of ours that re-exports the names (src/config-yaml.ts).
const defaultOnly = readdirSync(OUT).filter((name) => /^export default require_/m.test(readFileSync(join(OUT, name), 'utf8')))
if (defaultOnly.length > 0) {
  console.error(`bundle: a CommonJS package is loaded with import(): its named exports are lost (${defaultOnly.join(', ')})`)
  process.exit(1)
}

for (const file of commands) {
  const stub = join(OUT, 'commands', relative(COMMANDS, file))
  mkdirSync(dirname(stub), { recursive: true })
  const target = relative(dirname(stub), join(OUT, `${commandEntryName(file)}.js`)).split(sep).join('/')
  writeFileSync(stub, `export { default } from '${target.startsWith('.') ? target : `./${target}`}'\n`)
}
