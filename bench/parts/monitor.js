// f. `sagactl monitor` with 10,000 active sagas, in a real terminal (tmux): peak RSS, and
// the delay from a committed transition to its row changing on screen.
import { spawnSync } from 'node:child_process'
import { SCHEMA, THREE } from '../lib/engine-run.js'
import { freshSchema, product } from '../lib/sagactl.js'
import { BIN, hasCommand, log, median, peakRssMiB, percentile, sleep, uuidV7Sql, waitUntil, withClient } from '../lib/util.js'
import { fmt } from './throughput.js'

const ACTIVE = 10_000
const tmux = (...args) => spawnSync('tmux', args, { encoding: 'utf8' })
const screen = (session) => tmux('capture-pane', '-p', '-t', session).stdout ?? ''

async function insertActive(url, n) {
  await withClient(url, SCHEMA, async (c) => {
    // Held by a lease that outlives the benchmark, so no worker or pass touches them.
    await c.query(
      `INSERT INTO sagas (id, definition, version, status, step_index, step_name, input, due_at, lease_owner, created_at, updated_at)
       SELECT ${uuidV7Sql('m.ms', 'g')}, 'bench-three', 1, CASE WHEN g % 10 = 0 THEN 'compensating' ELSE 'running' END,
              g % 3, (ARRAY['first', 'second', 'third'])[g % 3 + 1], '{}'::jsonb, now() + interval '1 day', 'bench:elsewhere',
              to_timestamp(m.ms / 1000.0), to_timestamp(m.ms / 1000.0)
       FROM generate_series(1, $1::int) g,
            LATERAL (SELECT (extract(epoch FROM now()) * 1000)::bigint - ($1::int - g) * 50 AS ms) m`,
      [n],
    )
    await c.query('VACUUM ANALYZE sagas')
  })
}

/** Saga ids whose short form is on screen, each with the line it is on. */
async function visibleSagas(c, text) {
  // Ids are shown shortened (a unique prefix such as 01a2009c-f018).
  const tokens = [...new Set(text.match(/\b[0-9a-f]{8}(?:-[0-9a-f]{1,4})?\b/g) ?? [])]
  const found = []
  for (const t of tokens) {
    const r = await c.query(`SELECT id FROM sagas WHERE id::text LIKE $1 || '%' AND status IN ('running', 'compensating') LIMIT 2`, [t])
    if (r.rowCount === 1) found.push({ token: t, id: r.rows[0].id })
  }
  return found
}

/** The status column of a saga's row (the word after the definition), or null once the row is gone. */
function statusOn(text, token) {
  const line = text.split('\n').find((l) => l.includes(token))
  if (!line) return null
  return /\b(pending|running|compensating|suspended|completed|compensated|failed)\b/.exec(line.slice(line.indexOf(token)))?.[1] ?? '?'
}

export default {
  name: 'monitor',
  title: 'f. Console: sagactl monitor with 10,000 active sagas',
  async run(ctx) {
    if (!hasCommand('monitor')) {
      return { status: 'pending', title: this.title, wanted: 'peak RSS, transition-to-screen delay', reason: '`sagactl monitor` is not in the build yet; rerun with --only monitor once it is.' }
    }
    if (tmux('-V').status !== 0) return { status: 'pending', title: this.title, reason: 'tmux is not installed (apt-get install tmux)' }
    const url = await ctx.cluster.freshDatabase('sagactl_bench_monitor')
    await freshSchema(url, SCHEMA, [THREE.text])
    await insertActive(url, ACTIVE)
    const session = `sagactl-bench-${process.pid}`
    const started = tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', `exec env -u SAGACTL_DATABASE_URL -u DATABASE_URL ${process.execPath} ${BIN} monitor --database-url ${url} --schema ${SCHEMA}`)
    if (started.status !== 0) throw new Error(`tmux: ${started.stderr}`)
    const pid = Number(tmux('display-message', '-p', '-t', session, '#{pane_pid}').stdout.trim())
    const p = await product()
    const db = await p.openDatabase({ url, schema: SCHEMA, max: 2 })
    const engine = new p.Engine(db)
    const delays = []
    let firstScreenMs = null
    let rss = null
    try {
      await withClient(url, SCHEMA, async (c) => {
        const t0 = performance.now()
        await waitUntil(async () => (await visibleSagas(c, screen(session))).length > 0, { timeoutMs: 30_000, everyMs: 20, what: 'sagas on screen' })
        firstScreenMs = performance.now() - t0
        const rounds = ctx.quick ? 5 : 20
        for (let i = 0; i < rounds; i++) {
          const before = screen(session)
          const [pickOne] = await visibleSagas(c, before)
          if (!pickOne) break
          const was = statusOn(before, pickOne.token)
          await engine.abort(pickOne.id, { operator: 'bench', reason: 'monitor latency probe' })
          const t = performance.now()
          // Ages tick every second, so only the status (or the row leaving the live view) counts.
          await waitUntil(async () => statusOn(screen(session), pickOne.token) !== was, { timeoutMs: 10_000, everyMs: 5, what: 'row change on screen' })
          delays.push(performance.now() - t)
          await sleep(300)
        }
      })
    } finally {
      rss = peakRssMiB(pid)
      tmux('send-keys', '-t', session, 'q')
      await sleep(300)
      tmux('kill-session', '-t', session)
      await db.close()
    }
    log(`  monitor: peak RSS ${rss?.toFixed(0)} MiB, transition to screen p50 ${median(delays)?.toFixed(0)} ms`)
    return {
      title: this.title,
      params: { active: ACTIVE, terminal: 'tmux 120x40', probes: delays.length },
      figures: { peakRssMiB: rss, firstScreenMs, delaysMs: delays.map((d) => Math.round(d)) },
      targets: [
        { metric: 'peak RSS', value: `${fmt(rss, 0)} MiB`, target: '< 150 MiB', met: rss !== null && rss < 150 },
        { metric: 'committed transition to its row changing on screen, p50 / p99', value: `${fmt(median(delays), 0)} / ${fmt(percentile(delays, 99), 0)} ms`, target: 'no target set' },
      ],
      tables: [
        {
          head: ['peak RSS MiB', 'first sagas on screen ms', 'transition to screen p50 ms', 'p99 ms', 'probes'],
          rows: [[fmt(rss, 0), fmt(firstScreenMs, 0), fmt(median(delays), 0), fmt(percentile(delays, 99), 0), delays.length]],
        },
      ],
      notes: [
        `${ACTIVE.toLocaleString('en')} running/compensating sagas (leased elsewhere, so nothing else changes them). Each probe aborts a saga visible on screen through the engine API and polls tmux capture-pane every 5 ms until that row changes; the delay counts from the commit. Peak RSS is VmHWM of the monitor process.`,
      ],
    }
  },
}
