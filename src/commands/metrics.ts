import { Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base-command.js'
import { durationFlag } from '../cli/flags.js'
import { createSagaMetrics, serveMetrics } from '../engine/metrics.js'
import { UsageError } from '../errors.js'

export default class Metrics extends BaseCommand<typeof Metrics> {
  static override summary = 'Serve Prometheus metrics at /metrics until stopped.'
  static override description =
    'Metrics: sagactl_sagas{status,definition} (active and suspended sagas, and finished ones of the last 24h), ' +
    'sagactl_step_duration_seconds{definition,step,phase}, sagactl_step_retries_total, sagactl_compensations_total{definition,outcome}, ' +
    'sagactl_open_interventions, sagactl_live_workers and sagactl_worker_heartbeat_age_seconds{worker}; with a replica ' +
    '(--read-database-url) everything is read there except worker heartbeats (from the primary), and sagactl_replica_lag_seconds is added. Counters and the ' +
    'histogram count from the moment the endpoint starts. Each scrape runs a few indexed, bounded queries. /healthz answers 200. ' +
    '--port 0 picks a free port; the address is printed on stderr. SIGINT or SIGTERM stops it.'
  static override examples = [
    '<%= config.bin %> metrics',
    '<%= config.bin %> metrics --port 9464 --host 0.0.0.0',
    'curl -s http://127.0.0.1:9464/metrics | grep sagactl_sagas',
  ]
  static override flags = {
    ...BaseCommand.readFlags,
    port: Flags.integer({ summary: 'Port to listen on; 0 picks a free one.', default: 9464, min: 0, max: 65535 }),
    host: Flags.string({ summary: 'Address to listen on (0.0.0.0 for every interface).', default: '127.0.0.1' }),
    'worker-liveness': durationFlag({ summary: 'A worker is live when its heartbeat is younger than this.', default: 30_000, defaultHelp: async () => '30s' }),
  }

  protected override servesEmbedded(): boolean {
    return true
  }

  protected override recoversEmbedded(): boolean {
    return true
  }

  async run() {
    const primary = await this.db({ max: 2 })
    const db = await this.readDb()
    const metrics = createSagaMetrics(db, { workerLivenessMs: this.flags['worker-liveness'], primary: db === primary ? undefined : primary })
    // The first read sets where the counters start and proves the database answers.
    await metrics.refresh()
    const server = await serveMetrics(metrics, { port: this.flags.port, host: this.flags.host }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES') {
        throw new UsageError(`cannot listen on ${this.flags.host}:${this.flags.port}: ${err.code}`, 'choose another --port or --host')
      }
      throw err
    })
    process.stderr.write(`metrics on ${server.url}\n`)
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'))
      process.once('SIGTERM', () => resolve('SIGTERM'))
    })
    await server.close()
    return { url: server.url, stoppedBy: signal }
  }
}
