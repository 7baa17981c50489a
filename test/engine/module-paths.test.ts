import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseDefinition } from '../../src/engine/definition.js'
import { executeCall, type StepContext } from '../../src/engine/executors/index.js'

const ctx: StepContext = { sagaId: '01900000-0000-7000-8000-0000000000aa', step: 's', phase: 'action', attempt: 1, input: {}, results: {} }

/** A worker host: --defs with one good step, and a file outside it that must never run. */
function host() {
  const root = mkdtempSync(join(tmpdir(), 'sagactl-mod-'))
  const defs = join(root, 'wdefs')
  mkdirSync(join(defs, 'steps'), { recursive: true })
  writeFileSync(join(defs, 'steps', 'ok.mjs'), 'export const run = () => "ran inside"\n')
  const evil = join(root, 'evil.mjs')
  writeFileSync(evil, 'globalThis.__sagactlEvilRan = true\nexport const run = () => "ran outside"\n')
  symlinkSync(evil, join(defs, 'link-out.mjs'))
  symlinkSync(join(defs, 'steps', 'ok.mjs'), join(defs, 'link-in.mjs'))
  return { defs, evil }
}

describe('module steps stay inside --defs', () => {
  it('a definition naming a path outside --defs is refused at validation, with its position', () => {
    for (const path of ['../evil.mjs', '/tmp/evil.mjs', 'steps/../../evil.mjs', 'file:///tmp/evil.mjs']) {
      const text = `name: x\nsteps:\n  - name: a\n    action: { module: "${path}", export: run }\n`
      const problems = parseDefinition(text, 'x.yaml').problems
      expect(problems, path).toHaveLength(1)
      expect(problems[0]).toMatchObject({ file: 'x.yaml', line: 4 })
      expect(problems[0]!.message).toMatch(/--defs/)
    }
    expect(parseDefinition('name: x\nsteps:\n  - name: a\n    action: { module: ./steps/ok.mjs, export: run }\n', 'x.yaml').problems).toEqual([])
  })

  it('at call time, paths and symlinks that leave --defs are refused (a business failure) and never imported', async () => {
    const { defs, evil } = host()
    const opts = { timeoutMs: 2000, defsDir: defs }
    for (const path of ['../evil.mjs', evil, 'link-out.mjs']) {
      const out = await executeCall({ module: path, export: 'run' }, ctx, opts)
      expect(out.kind, path).toBe('business')
      expect((out as { error: string }).error).toContain('refused')
    }
    expect((globalThis as { __sagactlEvilRan?: boolean }).__sagactlEvilRan).toBeUndefined()
    expect(await executeCall({ module: './steps/ok.mjs', export: 'run' }, ctx, opts)).toEqual({ kind: 'success', output: 'ran inside' })
    expect(await executeCall({ module: 'link-in.mjs', export: 'run' }, ctx, opts)).toEqual({ kind: 'success', output: 'ran inside' })
  })
})
