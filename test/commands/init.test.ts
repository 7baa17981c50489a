import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'

const packaged = (name: string) => readFileSync(fileURLToPath(new URL(`../../examples/${name}`, import.meta.url)), 'utf8')

// A new user in a directory of their own: the examples the README names are not there yet.
describe('sagactl init and the pointer to it', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'sagactl-init-'))

  it('a definition or input that is not there points at sagactl init (exit 2, one line)', async () => {
    const hint = 'to write the example definition and input into ./examples, run: sagactl init'
    const apply = await runCli(['def', 'apply', 'examples/order-checkout.yaml', '--database-url', 'postgres://u:pw@127.0.0.1:1/x', '--schema', 's'], { cwd })
    expect(apply.code).toBe(2)
    expect(apply.stderr).toBe(`error: cannot read examples/order-checkout.yaml: no such file or directory — ${hint}\n`)
    const start = await runCli(['saga', 'start', 'order-checkout', '--input', '@examples/order.json', '--database-url', 'postgres://u:pw@127.0.0.1:1/x'], { cwd })
    expect(start.code).toBe(2)
    expect(start.stderr).toBe(`error: --input: cannot read examples/order.json: ENOENT — ${hint}\n`)
  })

  it('writes the example definition and input, then the commands of the README work from there', async () => {
    const res = await runCli(['init', '--json'], { cwd })
    expect(res.code, res.stderr).toBe(0)
    expect(JSON.parse(res.stdout)).toEqual({
      dir: '.',
      files: [
        { file: 'examples/order-checkout.yaml', result: 'created' },
        { file: 'examples/order.json', result: 'created' },
      ],
    })
    expect(readFileSync(join(cwd, 'examples/order-checkout.yaml'), 'utf8')).toBe(packaged('order-checkout.yaml'))
    expect(readFileSync(join(cwd, 'examples/order.json'), 'utf8')).toBe(packaged('order.json'))
    const valid = await runCli(['def', 'validate', 'examples/order-checkout.yaml'], { cwd })
    expect(valid.stdout).toMatch(/^OK examples\/order-checkout.yaml: order-checkout \(6 steps\)/)
  })

  it('leaves a changed file alone and writes nothing (exit 4) unless --force', async () => {
    const dir = join(cwd, 'mine')
    expect((await runCli(['init', 'mine'], { cwd })).code).toBe(0)
    writeFileSync(join(dir, 'examples/order.json'), '{"mine":true}')
    const refused = await runCli(['init', 'mine'], { cwd })
    expect(refused.code).toBe(4)
    expect(refused.stderr.trim().split('\n')).toEqual([
      `error: ${join('mine', 'examples/order.json')} already there with other content — keep it, or replace it: sagactl init --force`,
    ])
    expect(readFileSync(join(dir, 'examples/order.json'), 'utf8')).toBe('{"mine":true}')
    const forced = await runCli(['init', 'mine', '--force'], { cwd })
    expect(forced.code, forced.stderr).toBe(0)
    expect(forced.stdout).toMatch(/^unchanged mine\/examples\/order-checkout.yaml\nreplaced mine\/examples\/order.json\n/)
    expect(forced.stdout).toContain('sagactl def apply mine/examples/order-checkout.yaml')
    expect(readFileSync(join(dir, 'examples/order.json'), 'utf8')).toBe(packaged('order.json'))
    expect(existsSync(join(cwd, '.sagactl'))).toBe(false)
  })
})
