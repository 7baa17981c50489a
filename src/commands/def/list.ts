import { BaseCommand } from '../../cli/base-command.js'
import { table } from '../../cli/render.js'
import { listDefinitions } from '../../db/definitions.js'

export default class DefList extends BaseCommand<typeof DefList> {
  static override summary = 'List definitions with their latest version and saga counts.'
  static override description = 'Active sagas are those not yet finished: pending, running, compensating or suspended.'
  static override examples = ['<%= config.bin %> def list', '<%= config.bin %> def list --json']

  async run() {
    const db = await this.db()
    const items = await listDefinitions(db)
    if (!this.jsonEnabled()) {
      if (items.length === 0) {
        this.log('no definitions yet: register one with `sagactl def apply <file|dir>`')
      } else {
        this.log(
          table(
            ['name', 'latest', 'versions', 'steps', 'active sagas', 'total sagas', 'description'],
            items.map((d) => [d.name, d.latestVersion, d.versions, d.steps, d.sagas.active, d.sagas.total, d.description]),
          ),
        )
      }
    }
    return { items, next: null }
  }
}
