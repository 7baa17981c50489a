// d. CLI responsiveness: start-up of `sagactl --version`, `saga list --limit 50` and
// `saga start` on the server against bare `node -e 0`, interleaved in one run;
// `saga list --json --limit 50 --status completed` over 1,000,000 sagas, wall clock; and
// finding sagas by what the business knows on the same sagas: `--where` on the input
// and `--tag`, each checked (EXPLAIN) to be served by its GIN index.
import { THREE } from '../lib/engine-run.js'
import { freshSchema, product } from '../lib/sagactl.js'
import { BIN, log, median, percentile, runCli, runProcess, uuidV7Sql, withClient } from '../lib/util.js'
import { fmt } from './throughput.js'
import { embeddedRows, embeddedTable } from './cli-embedded.js'

const ROWS = 1_000_000
const SCHEMA = 'list1m'
const START_SCHEMA = 'cli_start'
const VERSION_RATIO_TARGET = 2
const COMMAND_RATIO_TARGET = 3
const LIST_TARGET_MS = 300

// 20 sagas per customer, 200 per store: the selections an operator's --where and --tag make.
const CUSTOMERS = 50_000
const STORES = 5_000

/** Brings a kept schema up to this build's migrations (the CLI refuses a schema with pending ones). */
async function migrateKept(url) {
  const p = await product()
  const db = await p.openDatabase({ url, schema: SCHEMA, max: 2 })
  try {
    await p.migrate(db)
  } finally {
    await db.close()
  }
}

/** 1M sagas over the last ~28 hours, time-ordered ids, mostly completed, with customers and tags; kept between runs. */
async function ensureMillion(url) {
  const have = await withClient(url, null, async (c) => {
    const t = await c.query(`SELECT to_regclass('${SCHEMA}.sagas') IS NOT NULL AS ok`)
    if (!t.rows[0].ok) return 0
    // Kept sagas from before tags and customers existed are made again.
    const tagged = await c.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = '${SCHEMA}' AND table_name = 'sagas' AND column_name = 'tags'`)
    if (tagged.rows.length === 0 || (await c.query(`SELECT 1 FROM ${SCHEMA}.sagas WHERE tags ? 'store' LIMIT 1`)).rows.length === 0) return 0
    return (await c.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.sagas`)).rows[0].n
  })
  if (have === ROWS) {
    await migrateKept(url)
    return false
  }
  log(`cli: filling ${SCHEMA}.sagas with ${ROWS.toLocaleString('en')} rows`)
  const p = await product()
  const db = await p.openDatabase({ url, schema: SCHEMA, max: 2 })
  try {
    await db.exec(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`)
    await p.migrate(db)
  } finally {
    await db.close()
  }
  await withClient(url, SCHEMA, async (c) => {
    await c.query(`
      INSERT INTO sagas (id, definition, version, status, step_index, step_name, input, tags, due_at, created_at, updated_at, finished_at, last_error, reason)
      SELECT ${uuidV7Sql('m.ms', 'g')},
             CASE WHEN g % 2 = 0 THEN 'order-checkout' ELSE 'refund' END, 1, s.st,
             CASE WHEN s.st IN ('running', 'compensating', 'suspended') THEN 1 END,
             CASE WHEN s.st IN ('running', 'compensating', 'suspended') THEN 'reserve-inventory' END,
             jsonb_build_object('order', g, 'customer', jsonb_build_object('id', g % ${CUSTOMERS})),
             jsonb_build_object('region', (ARRAY['eu', 'us', 'apac'])[g % 3 + 1], 'store', 's-' || g % ${STORES}),
             CASE WHEN s.st IN ('pending', 'running', 'compensating') THEN to_timestamp(m.ms / 1000.0) END,
             to_timestamp(m.ms / 1000.0), to_timestamp(m.ms / 1000.0 + 0.2),
             CASE WHEN s.st IN ('completed', 'compensated', 'failed') THEN to_timestamp(m.ms / 1000.0 + 0.2) END,
             CASE WHEN s.st IN ('compensated', 'failed', 'suspended') THEN 'HTTP 409: refused ' || g % 17 END,
             CASE WHEN s.st IN ('failed', 'suspended') THEN 'reason ' || g % 13 END
      FROM generate_series(1, ${ROWS}) g,
           LATERAL (SELECT (extract(epoch FROM now()) * 1000)::bigint - (${ROWS} - g) * 100 AS ms) m,
           LATERAL (SELECT CASE WHEN g % 1000 = 0 THEN 'running' WHEN g % 1000 = 1 THEN 'compensating' WHEN g % 1000 = 2 THEN 'pending'
                                WHEN g % 1000 = 3 THEN 'suspended' WHEN g % 100 = 4 THEN 'failed' WHEN g % 20 = 5 THEN 'compensated'
                                ELSE 'completed' END AS st) s`)
    await c.query('VACUUM ANALYZE sagas')
  })
  return true
}

const stats = (ms) => ({ median: median(ms), p90: percentile(ms, 90), min: Math.min(...ms), runs: ms.map((x) => Math.round(x)) })

/**
 * Fresh processes of each command in turn, round after round (after one warm-up round),
 * so that a drift of the shared machine weighs on every command alike.
 */
async function interleaved(n, commands) {
  const ms = Object.fromEntries(Object.keys(commands).map((k) => [k, []]))
  for (let round = -1; round < n; round++) {
    for (const [name, fn] of Object.entries(commands)) {
      const t = await fn()
      if (round >= 0) ms[name].push(t)
    }
  }
  return Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, stats(v)]))
}

async function cliMs(args, check) {
  const r = await runCli(args)
  if (r.code !== 0) throw new Error(`sagactl ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  check?.(r.stdout)
  return r.ms
}

async function timed(n, fn) {
  await fn() // warm-up: page cache, compiled code
  const ms = []
  for (let i = 0; i < n; i++) ms.push(await fn())
  return stats(ms)
}

/** [figure name, flag, value, sagas that match, sagas on the first page] */
const SEARCHES = [
  ['where', '--where', 'input.customer.id=42', (ROWS / CUSTOMERS).toLocaleString('en'), ROWS / CUSTOMERS],
  ['tag', '--tag', 'store=s-42', (ROWS / STORES).toLocaleString('en'), 50],
  ['tagBroad', '--tag', 'region=eu', 'a third', 50],
]

/** Which index each search's page query uses, by EXPLAIN: `GIN sagas_input`, or the plan's first index otherwise. */
async function searchPlans(url) {
  const p = await product()
  const { pageQuery } = await import('../../dist/db/queries/sagas.js')
  const { SAGA_LIST_COLUMNS } = await import('../../dist/db/rows.js')
  const { filterFromFlags } = await import('../../dist/cli/flags.js')
  const db = await p.openDatabase({ url, schema: SCHEMA, max: 1 })
  try {
    const plans = {}
    for (const [name, flag, value] of SEARCHES) {
      const q = pageQuery(SAGA_LIST_COLUMNS, filterFromFlags({ [flag.slice(2)]: [value] }), { limit: 50 })
      const text = (await db.query(`EXPLAIN ${q.sql}`, q.values)).rows.map((r) => r['QUERY PLAN']).join('\n')
      const gin = text.match(/Bitmap Index Scan on (sagas_input|sagas_tags)/)
      plans[name] = gin ? `GIN ${gin[1]}` : `no GIN: ${text.match(/Index(?: Only)? Scan(?: Backward)? using (\w+)/)?.[0] ?? text.split('\n')[0].trim()}`
    }
    return plans
  } finally {
    await db.close()
  }
}

export default {
  name: 'cli',
  title: 'd. CLI start-up and listing',
  async run(ctx) {
    const n = ctx.quick ? 5 : 10
    const url = await ctx.cluster.ensureDatabase('sagactl_bench_list')
    const filled = await ensureMillion(url)

    await freshSchema(url, START_SCHEMA, [THREE.text])
    const server = ['--database-url', url]
    let key = 0
    const startup = await interleaved(n, {
      node: async () => (await runProcess(process.execPath, ['-e', '0'])).ms,
      version: () => cliMs(['--version'], (out) => {
        if (!/^sagactl\/\S+ \S+ node-v/.test(out)) throw new Error(`sagactl --version printed ${JSON.stringify(out)}`)
      }),
      list: () => cliMs(['saga', 'list', '--limit', '50', ...server, '--schema', SCHEMA], (out) => {
        if (out.split('\n').length < 53) throw new Error('saga list --limit 50 did not print a table of 50 sagas')
      }),
      start: () => cliMs(['saga', 'start', 'bench-three', '--input', '{}', '--key', `s-${process.pid}-${key++}`, ...server, '--schema', START_SCHEMA]),
    })
    const { node, version } = startup
    const args = ['saga', 'list', '--json', '--limit', '50', '--status', 'completed', '--database-url', url, '--schema', SCHEMA]
    const list = await timed(n, async () => {
      const r = await runCli(args)
      if (r.code !== 0) throw new Error(`saga list exited ${r.code}: ${r.stderr}`)
      const page = JSON.parse(r.stdout)
      if (page.items?.length !== 50 || page.items.some((s) => s.status !== 'completed')) throw new Error('saga list did not return 50 completed sagas')
      return r.ms
    })
    // Finding sagas by what the business knows: a customer id in the input, a tag.
    const search = {}
    for (const [name, flag, value, , expect] of SEARCHES) {
      const argv = ['saga', 'list', '--json', flag, value, '--database-url', url, '--schema', SCHEMA]
      search[name] = await timed(n, async () => {
        const r = await runCli(argv)
        if (r.code !== 0) throw new Error(`saga list ${flag} ${value} exited ${r.code}: ${r.stderr}`)
        const got = JSON.parse(r.stdout).items?.length
        if (got !== expect) throw new Error(`saga list ${flag} ${value} returned ${got} sagas, expected ${expect}`)
        return r.ms
      })
    }
    const p = await product()
    const { listSagas } = await import('../../dist/db/queries/sagas.js')
    const plans = await searchPlans(url)
    const { filterFromFlags } = await import('../../dist/cli/flags.js')
    const searchQuery = {}
    const db = await p.openDatabase({ url, schema: SCHEMA, max: 1 })
    let query
    try {
      query = await timed(n, async () => {
        const t = performance.now()
        await listSagas(db, { status: ['completed'] }, { limit: 50 })
        return performance.now() - t
      })
      for (const [name, flag, value] of SEARCHES) {
        const filter = filterFromFlags({ [flag.slice(2)]: [value] })
        searchQuery[name] = await timed(n, async () => {
          const t = performance.now()
          await listSagas(db, filter, { limit: 50 })
          return performance.now() - t
        })
      }
    } finally {
      await db.close()
    }
    const embedded = await embeddedRows(ctx, n)
    const ownerRatio = Math.max(...['list', 'start', 'show'].map((c) => embedded.through[c].median / embedded.server[c].median))
    const ratio = (c) => startup[c].median / node.median
    log(`  node -e 0 ${node.median.toFixed(0)} ms; --version ${fmt(ratio('version'), 2)}x, saga list --limit 50 ${fmt(ratio('list'), 2)}x, saga start ${fmt(ratio('start'), 2)}x of it; saga list over 1M ${list.median.toFixed(0)} ms (query alone ${query.median.toFixed(1)} ms)`)
    log(`  ${SEARCHES.map(([name, flag, value]) => `saga list ${flag} ${value} ${search[name].median.toFixed(0)} ms (${plans[name]})`).join(', ')}`)
    return {
      title: this.title,
      params: { repeats: n, rows: ROWS, filledThisRun: filled, bin: BIN.replace(/^.*\/(bin\/)/, '$1'), plans },
      figures: { node, version, startup, list, query, search, searchQuery, embedded },
      targets: [
        { metric: '`sagactl --version` / `node -e 0`', value: `${fmt(ratio('version'), 2)}x`, target: `<= ${VERSION_RATIO_TARGET}x`, met: ratio('version') <= VERSION_RATIO_TARGET },
        { metric: '`saga list --limit 50` on the server / `node -e 0`', value: `${fmt(ratio('list'), 2)}x`, target: `<= ${COMMAND_RATIO_TARGET}x`, met: ratio('list') <= COMMAND_RATIO_TARGET },
        { metric: '`saga start` on the server / `node -e 0`', value: `${fmt(ratio('start'), 2)}x`, target: `<= ${COMMAND_RATIO_TARGET}x`, met: ratio('start') <= COMMAND_RATIO_TARGET },
        { metric: '`saga list --json --limit 50 --status completed`, 1M sagas, wall', value: `${fmt(list.median, 0)} ms`, target: `< ${LIST_TARGET_MS} ms`, met: list.median < LIST_TARGET_MS },
        ...SEARCHES.filter(([name]) => name !== 'tagBroad').map(([name, flag, value]) => ({
          metric: `\`saga list ${flag} ${value}\`, 1M sagas, wall (${plans[name]})`,
          value: `${fmt(search[name].median, 0)} ms`,
          target: `< ${LIST_TARGET_MS} ms`,
          met: search[name].median < LIST_TARGET_MS && plans[name].startsWith('GIN'),
        })),
        { metric: 'short command on the embedded default through an owner / on the server (worst of list, start, show)', value: `${fmt(ownerRatio, 2)}x`, target: '<= 1.5x', met: ownerRatio <= 1.5 },
      ],
      tables: [
        {
          head: ['command', 'median ms', 'p90 ms', 'min ms', '/ node -e 0'],
          rows: [
            ...[
              ['node -e 0', 'node'],
              ['sagactl --version', 'version'],
              ['sagactl saga list --limit 50 (table, server, 1M sagas)', 'list'],
              ['sagactl saga start (server)', 'start'],
            ].map(([label, c]) => [label, fmt(startup[c].median, 0), fmt(startup[c].p90, 0), fmt(startup[c].min, 0), `${fmt(ratio(c), 2)}x`]),
            ['sagactl saga list --json --limit 50 --status completed (1M sagas)', fmt(list.median, 0), fmt(list.p90, 0), fmt(list.min, 0), `${fmt(list.median / node.median, 2)}x`],
            ['  of which the query (listSagas in-process, warm pool)', fmt(query.median, 1), fmt(query.p90, 1), fmt(query.min, 1), ''],
            ...SEARCHES.flatMap(([name, flag, value, matches]) => [
              [`sagactl saga list --json ${flag} ${value} (${matches} of 1M match; ${plans[name]})`, fmt(search[name].median, 0), fmt(search[name].p90, 0), fmt(search[name].min, 0), `${fmt(search[name].median / node.median, 2)}x`],
              ['  of which the query (listSagas in-process, warm pool)', fmt(searchQuery[name].median, 1), fmt(searchQuery[name].p90, 1), fmt(searchQuery[name].min, 1), ''],
            ]),
          ],
        },
        embeddedTable(embedded),
      ],
      notes: [
        'The embedded rows: a fresh directory with a few sagas; "through an owner" while `sagactl metrics` (a long-running command) serves it, "no owner" when the command opens PGlite itself. The server rows run the same commands on a small schema of the same server.',
        `Search rows: each customer id is in the input of ${ROWS / CUSTOMERS} sagas, each store tag on ${ROWS / STORES}, each region on a third; --limit is the default 50. The plan is PostgreSQL's EXPLAIN of the page query: a broad tag (a third of all sagas) is found faster by walking the newest ids than through the GIN index, and the planner does that.`,
        `Start-up: wall time of a new process each time (\`node bin/run.js\`, output to a pipe), median of ${n} after one warm-up round; node -e 0, --version, saga list and saga start take turns, round after round, so each ratio compares processes run side by side. saga start enqueues bench-three (with a new --key each time) in schema ${START_SCHEMA}; saga list prints the table of the 50 newest of the 1M sagas.`,
        `The 1M-saga --json row: median of ${n} after one warm-up, run after the start-up rounds. The 1M sagas are generated in SQL (time-ordered UUIDv7-layout ids, ~95% completed, ANALYZEd) in schema ${SCHEMA} of database sagactl_bench_list and kept for later runs.`,
      ],
    }
  },
}
