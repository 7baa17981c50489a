import { BaseCommand } from '../../cli/base-command.js'
import { isoOrEmpty, status, table } from '../../cli/render.js'
import { migrationStatus } from '../../db/migrator.js'

export default class DbStatus extends BaseCommand<typeof DbStatus> {
  static override summary = 'List migrations: applied, pending, drift.'
  static override description =
    'drift: an applied migration whose file has changed since; unknown: applied by a newer sagactl than this one.'
  static override examples = ['<%= config.bin %> db status', '<%= config.bin %> db status --json']

  async run() {
    const db = await this.db({ ready: false })
    const rows = await migrationStatus(db)
    const out = {
      database: db.displayUrl,
      schema: db.schema,
      upToDate: rows.every((r) => r.state === 'applied'),
      migrations: rows.map((r) => ({ version: r.version, name: r.name, state: r.state, checksum: r.checksum, appliedAt: r.appliedAt?.toISOString() ?? null })),
    }
    if (!this.jsonEnabled()) {
      this.log(`${db.displayUrl} schema "${db.schema}"`)
      this.log(table(['version', 'name', 'state', 'applied at'], rows.map((r) => [String(r.version).padStart(4, '0'), r.name, status(r.state), isoOrEmpty(r.appliedAt)])))
    }
    return out
  }
}
