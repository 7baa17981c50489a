import { Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base-command.js'
import { durationFlag } from '../cli/flags.js'
import { healthThresholds } from '../cli/health-thresholds.js'
import { serveApi } from '../http/server.js'

export default class Serve extends BaseCommand<typeof Serve> {
  static override summary = 'Serve the HTTP API: start, follow and repair sagas from any service.'
  static override description =
    'Routes under /v1 (the OpenAPI document is GET /v1/openapi.json). Every request needs Authorization: Bearer <token> from "sagactl token create"; ' +
    'read tokens may GET, start tokens may also POST /v1/sagas, operate tokens may also act. Actions are audited with the token name as the operator. ' +
    'Binds 127.0.0.1 by default: put a TLS-terminating proxy in front of it before exposing it. --port 0 picks a free port; the address is printed on stderr. ' +
    'Waiting requests (?wait=) and event streams wake on notifications; when they cannot arrive (PgBouncer in transaction mode without --listen-database-url) a notice on stderr says so and they re-read every second. ' +
    'SIGTERM or SIGINT: stop accepting, answer waiting requests, let requests in flight finish (up to --drain), exit 0.'
  static override examples = [
    '<%= config.bin %> serve',
    '<%= config.bin %> serve --port 8080 --host 0.0.0.0',
    `curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"definition":"order-checkout","input":{"orderId":"o-1"}}' http://127.0.0.1:8080/v1/sagas`,
  ]
  static override flags = {
    port: Flags.integer({ summary: 'Port to listen on; 0 picks a free one.', default: 8080, min: 0, max: 65535 }),
    host: Flags.string({ summary: 'Address to listen on (0.0.0.0 for every interface).', default: '127.0.0.1' }),
    'max-body': Flags.integer({ summary: 'Largest request body in KiB; larger ones get 413.', default: 1024, min: 1 }),
    drain: durationFlag({ summary: 'On SIGTERM, how long requests in flight may take before their connections are closed.', default: 10_000, defaultHelp: async () => '10s' }),
    connections: Flags.integer({ summary: 'Database connections in the pool (a real server).', default: 16, min: 2, max: 200 }),
    ...BaseCommand.listenFlags,
  }

  async run() {
    const db = await this.db({ max: this.flags.connections })
    const api = await serveApi(db, {
      port: this.flags.port,
      host: this.flags.host,
      maxBodyBytes: this.flags['max-body'] * 1024,
      drainMs: this.flags.drain,
      version: this.config.version,
      health: healthThresholds(this.settings),
      log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
    })
    process.stderr.write(`sagactl API on ${api.url} (database ${db.displayUrl})\n`)
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'))
      process.once('SIGTERM', () => resolve('SIGTERM'))
    })
    process.stderr.write(`${signal}: draining\n`)
    await api.close()
    return { url: api.url, stoppedBy: signal }
  }
}
