import { Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { color, table } from '../../cli/render.js'
import { migrate } from '../../db/migrator.js'

export default class DbMigrate extends BaseCommand<typeof DbMigrate> {
  static override summary = 'Apply pending schema migrations.'
  static override description =
    'Applies the numbered migrations shipped with sagactl, each in its own transaction, under an advisory lock so concurrent runs are safe. An applied migration whose file changed, or a database newer than this sagactl, is refused.'
  static override examples = [
    '<%= config.bin %> db migrate',
    '<%= config.bin %> db migrate --dry-run',
    '<%= config.bin %> db migrate --database-url postgres://app@db:5432/app --schema sagas',
  ]
  static override flags = {
    'dry-run': Flags.boolean({ summary: 'List what would be applied; change nothing.' }),
  }

  async run() {
    const db = await this.db({ ready: false })
    const result = await migrate(db, { dryRun: this.flags['dry-run'] })
    const out = {
      database: db.displayUrl,
      schema: db.schema,
      dryRun: result.dryRun,
      applied: result.applied.map((m) => ({ version: m.version, name: m.name })),
      pending: result.dryRun ? result.pending.map((m) => ({ version: m.version, name: m.name })) : [],
    }
    if (!this.jsonEnabled()) {
      const list = result.dryRun ? result.pending : result.applied
      if (list.length === 0) {
        this.log(`schema "${db.schema}" in ${db.displayUrl} is up to date`)
      } else {
        this.log(table(['version', 'name'], list.map((m) => [String(m.version).padStart(4, '0'), m.name])))
        this.log(result.dryRun ? color.yellow(`${list.length} migration(s) would be applied (dry run)`) : color.green(`applied ${list.length} migration(s) to schema "${db.schema}"`))
      }
    }
    return out
  }
}
