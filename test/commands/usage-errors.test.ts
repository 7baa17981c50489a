import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { closestCommand } from '../../src/cli/command-not-found.js'
import { BIN, cleanEnv, runCli } from '../helpers/cli.js'

const hasScript = spawnSync('script', ['--version']).status === 0

describe('usage errors are one line that names the command (exit 2)', () => {
  it('every missing required flag, at once, with the command', async () => {
    const res = await runCli(['saga', 'skip', '0193a1b2'])
    expect(res.code).toBe(2)
    expect(res.stderr).toBe('error: sagactl saga skip: missing required flags --reason, --step — see: sagactl saga skip --help\n')
  })

  it('a mistyped command suggests the nearest one; --json gets the error document', async () => {
    const res = await runCli(['helth'])
    expect(res.code).toBe(2)
    expect(res.stderr).toBe('error: "helth" is not a sagactl command — did you mean: sagactl health? sagactl help lists them all\n')
    const json = await runCli(['sag', 'list', '--json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: 'usage', message: '"sag list" is not a sagactl command', hint: 'did you mean: sagactl saga list? sagactl help lists them all', exitCode: 2 },
    })
  })

  it.runIf(hasScript)('on a terminal it asks, and runs the suggestion with the arguments on yes', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sagactl-typo-')), 'here')
    const out = execFileSync('script', ['-qec', `'${process.execPath}' '${BIN}' inti '${dir}'`, '/dev/null'], {
      input: 'y\n',
      env: { ...cleanEnv(), NO_COLOR: '1' },
      encoding: 'utf8',
    })
    expect(out).toContain('"inti" is not a sagactl command. Did you mean init? [Y/n]')
    expect(existsSync(join(dir, 'examples/order-checkout.yaml'))).toBe(true)
  })

  it('finds the nearest command over the words that name one; nothing when none is near', () => {
    const ids = ['health', 'saga:list', 'saga:show', 'init', 'intervention:list']
    expect(closestCommand('helth', ids)).toEqual({ id: 'health', words: 1 })
    expect(closestCommand('saga:lst:--limit', ids)).toEqual({ id: 'saga:list', words: 2 })
    expect(closestCommand('inti:/tmp/x', ids)).toEqual({ id: 'init', words: 1 })
    expect(closestCommand('xyzzyqq', ids)).toBeUndefined()
  })
})
