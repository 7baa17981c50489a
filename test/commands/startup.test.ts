import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Config } from '@oclif/core'
import { afterAll, describe, expect, it } from 'vitest'
import { BIN, cleanEnv, runCli } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const hasScript = spawnSync('script', ['--version']).status === 0

// What the start-up shortcuts must leave as oclif made it: --version, help, autocomplete,
// and the suggestion for a mistyped command.
describe('start-up', () => {
  const cache = mkdtempSync(join(tmpdir(), 'sagactl-startup-'))
  afterAll(() => rmSync(cache, { recursive: true, force: true }))

  // Prints, as the process exits, the CommonJS files it loaded from node_modules.
  const loadedFiles = join(cache, 'loaded-files.cjs')
  writeFileSync(
    loadedFiles,
    "process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache).filter((f) => f.includes('node_modules'))) + '\\n'))\n",
  )
  const loaded = (stderr: string): string[] => JSON.parse(/^LOADED (.*)$/m.exec(stderr)?.[1] ?? 'null')

  it('--version prints exactly the line oclif prints', async () => {
    const config = await Config.load(ROOT)
    const r = await runCli(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${config.userAgent}\n`)
    expect(r.stdout).toMatch(/^sagactl\/\d+\.\d+\.\d+ \S+-\S+ node-v\d+/)
  })

  it.runIf(pgUrl)('a command against the server runs from the bundle: no oclif or pg file loaded from node_modules', async () => {
    const { url, schema, drop } = await freshPgSchema()
    try {
      const env = { SAGACTL_DATABASE_URL: url, NODE_OPTIONS: `--require ${loadedFiles}` }
      expect((await runCli(['db', 'migrate', '--schema', schema], { env })).code).toBe(0)
      const defFile = join(ROOT, 'bench', 'defs', 'three.yaml')
      expect((await runCli(['def', 'apply', defFile, '--schema', schema], { env })).code).toBe(0)
      const started = await runCli(['saga', 'start', 'bench-three', '--schema', schema, '--key', 'startup-1', '--json'], { env })
      expect(started.code).toBe(0)
      const list = await runCli(['saga', 'list', '--limit', '50', '--schema', schema, '--json'], { env })
      expect(list.code).toBe(0)
      expect(JSON.parse(list.stdout).items).toHaveLength(1)
      for (const r of [started, list]) {
        const files = loaded(r.stderr)
        expect(files.filter((f) => /node_modules[\\/](@oclif|pg)/.test(f))).toEqual([])
      }
    } finally {
      await drop()
    }
  })

  it('help for a topic comes from plugin-help, with its own copy of oclif, as before', async () => {
    const r = await runCli(['help', 'saga'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('sagactl saga COMMAND')
    expect(r.stdout).toContain('saga list')
    const flags = await runCli(['help', 'saga', 'list'])
    expect(flags.code).toBe(0)
    expect(flags.stdout).toContain('--limit')
  })

  it('--help still lists the topics and commands, help and autocomplete among them', async () => {
    const r = await runCli(['--help'])
    expect(r.code).toBe(0)
    for (const word of ['TOPICS', 'saga', 'COMMANDS', 'worker', 'help', 'autocomplete']) expect(r.stdout).toContain(word)
  })

  it('autocomplete still prints its setup for bash', async () => {
    const r = await runCli(['autocomplete', 'bash'], { env: { XDG_CACHE_HOME: cache, HOME: cache } })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('sagactl autocomplete')
  })

  it.runIf(hasScript)('a mistyped command is met with "Did you mean" in a terminal; declined, it exits 2', async () => {
    const child = spawn('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} workr`, '/dev/null'], {
      env: { ...cleanEnv(), TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let out = ''
    const answered = new Promise<void>((resolve) => {
      child.stdout.on('data', (d) => {
        out += d
        if (/Did you mean/.test(out)) resolve()
      })
    })
    await answered
    child.stdin.write('n\r')
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(out.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')).toContain('Did you mean worker?')
    expect(code).toBe(2)
  }, 30_000)
})
