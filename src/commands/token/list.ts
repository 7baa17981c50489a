import { BaseCommand } from '../../cli/base-command.js'
import { isoOrEmpty, table } from '../../cli/render.js'
import { listTokens } from '../../db/queries/tokens.js'

export default class TokenList extends BaseCommand<typeof TokenList> {
  static override summary = 'List the HTTP API tokens: name, role, created, last used (never the token).'
  static override description = 'Last used is updated at most once a minute per token.'
  static override examples = ['<%= config.bin %> token list', '<%= config.bin %> token list --json']

  async run() {
    const items = await listTokens(await this.db())
    if (!this.jsonEnabled()) {
      this.log(
        items.length
          ? table(['name', 'role', 'created', 'by', 'last used'], items.map((t) => [t.name, t.role, isoOrEmpty(t.createdAt), t.createdBy, isoOrEmpty(t.lastUsedAt) || 'never']))
          : 'no tokens: create one with sagactl token create --name <who> --role read|start|operate',
      )
    }
    return { items }
  }
}
