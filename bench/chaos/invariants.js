// What must hold after a chaos run, checked against the database and the service's own
// record of every call it received. Each check lists a few offending sagas when it fails.

const TERMINAL = new Set(['completed', 'compensated', 'failed'])

/** The status a saga must end in, given what its input told the service to do. */
export function expectedStatus(fate) {
  if (!fate.fail) return 'completed'
  return fate.compFail ? 'suspended' : 'compensated'
}

/**
 * sagas: [{ id, key, status, fate, openInterventions }] from the database;
 * expectedKeys: every key a saga was started with; steps: the definition's step names in order.
 */
export function checkInvariants({ sagas, expectedKeys, calls, applied, steps, compensable }) {
  const index = new Map(steps.map((s, i) => [s, i]))
  const byId = new Map(sagas.map((s) => [s.id, s]))
  const callsOf = new Map()
  for (const c of calls) {
    if (!callsOf.has(c.sagaId)) callsOf.set(c.sagaId, [])
    callsOf.get(c.sagaId).push(c)
  }
  const results = []
  const check = (name, bad, detail = '') => results.push({ name, ok: bad.length === 0, failures: bad.length, examples: bad.slice(0, 3), detail })

  const unsettled = sagas.filter((s) => !TERMINAL.has(s.status) && !(s.status === 'suspended' && s.openInterventions === 1))
  check('every saga is terminal, or suspended with one open intervention', unsettled.map((s) => `${s.id} ${s.status} (${s.openInterventions} open)`))

  const keys = new Set(sagas.map((s) => s.key))
  const missing = expectedKeys.filter((k) => !keys.has(k))
  const strangers = sagas.filter((s) => !expectedKeys.includes(s.key))
  check('nothing lost: every started saga is in the database and ended', [...missing.map((k) => `missing ${k}`), ...strangers.map((s) => `unexpected ${s.id}`), ...unsettled.map((s) => `not ended ${s.id}`)], `${sagas.length} of ${expectedKeys.length}`)

  const strangerCalls = calls.filter((c) => !byId.has(c.sagaId))
  check('every call belongs to a saga in the database', strangerCalls.map((c) => `${c.sagaId} ${c.step}:${c.phase}`))

  const badKeys = []
  const keysPer = new Map()
  for (const c of calls) {
    const id = `${c.sagaId}:${c.step}:${c.phase}`
    if (c.key !== id || c.bodyStep !== c.step || c.bodyPhase !== c.phase) badKeys.push(`${id} carried ${c.key}`)
    if (!keysPer.has(id)) keysPer.set(id, new Set())
    keysPer.get(id).add(c.key)
  }
  for (const [id, set] of keysPer) if (set.size > 1) badKeys.push(`${id}: ${set.size} keys`)
  check('one idempotency key per saga/step/phase, and it is <sagaId>:<step>:<phase>', badKeys)

  const neverAttempted = []
  const businessCompensated = []
  const completedCompensated = []
  const order = []
  const undone = []
  const outcome = []
  for (const s of sagas) {
    const own = (callsOf.get(s.id) ?? []).sort((a, b) => a.seq - b.seq)
    const actions = own.filter((c) => c.phase === 'action')
    const comps = own.filter((c) => c.phase === 'compensation')
    for (const c of comps) {
      const before = actions.filter((a) => a.step === c.step && a.seq < c.seq)
      if (before.length === 0) neverAttempted.push(`${s.id} ${c.step}`)
      else if (before.every((a) => a.outcome === '409' || a.outcome === '422')) businessCompensated.push(`${s.id} ${c.step}`)
    }
    if (s.status === 'completed' && comps.length > 0) completedCompensated.push(s.id)
    const collapse = (xs) => xs.map((c) => index.get(c.step)).filter((v, i, a) => i === 0 || v !== a[i - 1])
    const fwd = collapse(actions)
    const back = collapse(comps)
    const lastAction = actions.length ? actions[actions.length - 1].seq : -1
    if (fwd.some((v, i) => i > 0 && v <= fwd[i - 1]) || back.some((v, i) => i > 0 && v >= back[i - 1]) || comps.some((c) => c.seq < lastAction)) {
      order.push(`${s.id} actions ${fwd.join(',')} compensations ${back.join(',')}`)
    }
    if (s.status === 'completed') {
      for (const st of steps) if (!applied.get(`${s.id}:${st}:action`)) undone.push(`${s.id} completed without ${st}`)
    }
    if (s.status === 'compensated') {
      for (const st of compensable) {
        if (applied.get(`${s.id}:${st}:action`) && !applied.get(`${s.id}:${st}:compensation`)) undone.push(`${s.id} ${st} done and not undone`)
      }
    }
    const want = expectedStatus(s.fate)
    if (s.status !== want) outcome.push(`${s.id} ${s.status}, expected ${want}`)
  }
  check('no compensation for a step never attempted (per the call log)', neverAttempted)
  check('no compensation for a step refused with a business error', businessCompensated)
  check('no completed saga was compensated', completedCompensated)
  check('actions ran forward, compensations in reverse order of their actions', order)
  check('effects: completed sagas did every step once; compensated sagas undid every step that took effect', undone)
  check('each saga ended as its script says (completed / compensated / suspended)', outcome)
  return results
}

/** At-least-once at work: calls beyond the first per key, and repeats of work already done. */
export function repetition(calls) {
  const perKey = new Map()
  for (const c of calls) perKey.set(c.key, (perKey.get(c.key) ?? 0) + 1)
  const repeated = [...perKey.values()].reduce((a, n) => a + (n - 1), 0)
  const afterSuccess = calls.filter((c) => c.outcome === 'ok-repeat' || c.outcome === 'lost-repeat').length
  const byOutcome = {}
  for (const c of calls) byOutcome[c.outcome] = (byOutcome[c.outcome] ?? 0) + 1
  return { calls: calls.length, keys: perKey.size, repeated, repeatedAfterWorkDone: afterSuccess, byOutcome }
}

/** The table and counts a chaos run prints. */
export function formatReport(r) {
  const rows = r.invariants.map((i) => [i.ok ? 'PASS' : 'FAIL', i.name, i.ok ? i.detail || '' : `${i.failures}: ${i.examples.join('; ')}`])
  const w = Math.max(...rows.map((x) => x[1].length))
  const held = r.invariants.filter((i) => i.ok).length
  return [
    '',
    `      ${'invariant'.padEnd(w)}  detail`,
    ...rows.map(([ok, name, detail]) => `${ok}  ${name.padEnd(w)}  ${detail}`),
    '',
    `sagas ${r.sagas}: ${Object.entries(r.byStatus).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `workers SIGKILLed ${r.kills}, restarted ${r.restarts}, exited by themselves ${r.unexpectedExits}; PostgreSQL restart: ${r.pgRestart}`,
    `scheduler passes ${r.passes} (failed ${r.passFailures}${r.passErrors?.length ? `: ${r.passErrors.join('; ')}` : ''}); saga starts retried ${r.startRetries}`,
    `reclaims (saga.reclaimed events) ${r.reclaims}; calls ${r.calls.calls} for ${r.calls.keys} keys: repeated ${r.calls.repeated}, of which repeats of work already done ${r.calls.repeatedAfterWorkDone} (at-least-once at work)`,
    `call outcomes: ${Object.entries(r.calls.byOutcome).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    '',
    `${held} of ${r.invariants.length} invariants hold${r.ok ? '' : ' (see FAIL above)'}`,
    '',
  ].join('\n')
}
