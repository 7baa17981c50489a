import { describe, expect, it } from 'vitest'
import { redactUrl } from '../../src/db/redact.js'

describe('redactUrl hides every form of a database password', () => {
  it.each([
    ['postgres://u:hunter22@db:5432/x', 'postgres://u:****@db:5432/x'],
    ['postgres://u@db:5432/x?password=hunter22', 'postgres://u@db:5432/x?password=****'],
    ['postgres://u@db/x?sslmode=require&PassWord=hunter22&application_name=a', 'postgres://u@db/x?sslmode=require&PassWord=****&application_name=a'],
    ['postgres://u@db/x?sslpassword=hunter22', 'postgres://u@db/x?sslpassword=****'],
    ['postgres://u:p%40ss@db/x?password=hunter%2022', 'postgres://u:****@db/x?password=****'],
  ])('%s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown)
  })

  it('redacts a URL that does not parse, query parameters included', () => {
    const shown = redactUrl('postgres://u:hunter22@[bad/x?password=hunter23&sslpassword=hunter24')
    expect(shown).not.toMatch(/hunter2[234]/)
  })
})
