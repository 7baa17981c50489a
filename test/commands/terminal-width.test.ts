import { execFileSync, spawnSync } from 'node:child_process'
import { stripVTControlCharacters } from 'node:util'
import { describe, expect, it } from 'vitest'
import { BIN, cleanEnv, runCli } from '../helpers/cli.js'
import { pgUrl, useCliSchema } from '../helpers/db.js'
import { insertSaga } from '../helpers/fixtures.js'

const hasScript = spawnSync('script', ['--version']).status === 0
const REASON = 'compensation of process-payment failed 5 times: HTTP 500: {"error":"ledger_unavailable","message":"The ledger is being migrated"}'

/** The CLI with its stdout on a terminal of the given width (script(1) gives it a pty). */
function onTerminal(columns: number, args: string[]): string {
  const command = `stty cols ${columns} rows 40; exec ${[process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ')}`
  const out = execFileSync('script', ['-qec', command, '/dev/null'], { env: { ...cleanEnv(), NO_COLOR: '1' }, encoding: 'utf8' })
  return stripVTControlCharacters(out.replace(/\r/g, ''))
}

describe.runIf(pgUrl && hasScript)('tables on a terminal fit its width; piped, they keep every column whole', () => {
  const t = useCliSchema()

  it('intervention list at 80 and 132 columns, and through a pipe', async () => {
    for (let i = 0; i < 2; i++) {
      await insertSaga(t.db, { definition: 'order-checkout', status: 'suspended', intervention: { reason: REASON, step: 'process-payment', phase: 'compensation' } })
    }
    const piped = await runCli(['intervention', 'list', ...t.args])
    expect(piped.code, piped.stderr).toBe(0)
    expect(Math.max(...piped.stdout.split('\n').map((l) => l.length))).toBeGreaterThan(132)
    for (const columns of [80, 132]) {
      const out = onTerminal(columns, ['intervention', 'list', ...t.args])
      const lines = out.trimEnd().split('\n')
      expect(lines.at(-1)).toMatch(/^2 shown/)
      for (const line of lines) expect(line.length).toBeLessThanOrEqual(columns)
      if (columns === 132) expect(out).toMatch(/│ order-checkout@\d+ +│ process-payment \(comp\.\) │/)
    }
  })
})
