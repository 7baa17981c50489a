import { Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { operatorFlags } from '../../cli/bulk.js'
import { createToken, TOKEN_ROLES, type TokenRole } from '../../db/queries/tokens.js'
import { currentOperator } from '../../engine/operator.js'

export default class TokenCreate extends BaseCommand<typeof TokenCreate> {
  static override summary = 'Create a bearer token for the HTTP API (sagactl serve); it is printed once.'
  static override description =
    'Roles: read may GET; start may also POST /v1/sagas; operate may also retry, compensate, skip, abort and resolve interventions. ' +
    'Only a SHA-256 of the token is stored, so it cannot be shown again: keep it in your secret store. ' +
    'Requests are audited with the token name as the operator. Exit 4 when the name is taken.'
  static override examples = [
    '<%= config.bin %> token create --name checkout-service --role start',
    '<%= config.bin %> token create --name oncall-console --role operate --json',
  ]
  static override flags = {
    name: Flags.string({ summary: 'A name for the token: who uses it (audit rows carry it).', required: true }),
    role: Flags.string({ summary: 'What it may do.', options: [...TOKEN_ROLES], required: true }),
    ...operatorFlags,
  }

  async run() {
    const created = await createToken(await this.db(), {
      name: this.flags.name,
      role: this.flags.role as TokenRole,
      operator: currentOperator(this.flags.operator),
    })
    if (!this.jsonEnabled()) {
      this.log(created.token)
      process.stderr.write(`token "${created.name}" (${created.role}) created; it is shown only this once\n`)
    }
    return { name: created.name, role: created.role, token: created.token }
  }
}
