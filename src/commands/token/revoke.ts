import { Args } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { operatorFlags } from '../../cli/bulk.js'
import { revokeToken } from '../../db/queries/tokens.js'
import { currentOperator } from '../../engine/operator.js'

export default class TokenRevoke extends BaseCommand<typeof TokenRevoke> {
  static override summary = 'Revoke an HTTP API token by name.'
  static override description =
    'The token stops working at once for new servers, and within 5 seconds for a running sagactl serve (it caches tokens that briefly). Audited. Exit 3 when there is no such token.'
  static override examples = ['<%= config.bin %> token revoke checkout-service']
  static override args = {
    name: Args.string({ description: 'Token name.', required: true }),
  }
  static override flags = { ...operatorFlags }

  async run() {
    const revoked = await revokeToken(await this.db(), this.args.name, currentOperator(this.flags.operator))
    if (!this.jsonEnabled()) this.log(`revoked token "${revoked.name}" (${revoked.role})`)
    return { name: revoked.name, role: revoked.role, revoked: true }
  }
}
