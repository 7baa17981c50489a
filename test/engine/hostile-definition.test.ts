import { describe, expect, it } from 'vitest'
import { parseDefinition } from '../../src/engine/definition.js'

const problemsOf = (text: string) => parseDefinition(text, 'd.yaml').problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.message}`)

describe('definitions that would break a reader or the database', () => {
  it('a YAML alias bomb is a problem with its position, not a crash', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`)
    const problems = problemsOf(`name: bomb\n${levels.join('\n')}\nsteps: []\n`)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/^d\.yaml:3:\d+ .*alias/i)
  })

  it('a NUL in a string, escaped or raw, is caught by validation at its line', () => {
    const escaped = 'name: x\ndescription: "a\\u0000b"\nsteps:\n  - name: a\n    action: { http: { url: "http://127.0.0.1:1/x" } }\n'
    expect(problemsOf(escaped)).toEqual(['d.yaml:2:14 the definition contains a NUL character (\\u0000), which PostgreSQL cannot store'])
    const raw = escaped.replace('a\\u0000b', 'a\u0000b')
    expect(problemsOf(raw)[0]).toMatch(/^d\.yaml:2:\d+ .*NUL/)
  })
})
