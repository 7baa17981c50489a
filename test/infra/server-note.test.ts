import { describe, expect, it } from 'vitest'
import { serverNote } from '../server-note.js'

describe('the line npm test ends with', () => {
  it('names the server used, password redacted', () => {
    expect(serverNote('postgres://ci:hunter2@db:5432/test', true)).toBe('real-server tests ran against postgres://ci:****@db:5432/test')
  })

  it('says why the real-server tests were skipped, without telling to set a variable that is set', () => {
    expect(serverNote('postgres://ci:hunter2@db:5432/test', true, 'connect ECONNREFUSED')).toBe(
      'real-server tests SKIPPED: postgres://ci:****@db:5432/test is unreachable (connect ECONNREFUSED); SAGACTL_TEST_DATABASE_URL points there: start that server or fix the URL',
    )
    expect(serverNote('postgres://postgres@127.0.0.1:5432/test', false, 'timeout')).toContain('or set SAGACTL_TEST_DATABASE_URL to another server')
  })
})
