import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { startTagFlag } from '../../cli/flags.js'
import { readJsonInput } from '../../cli/input.js'
import { Engine } from '../../engine/engine.js'
import { tagsFromTexts } from '../../engine/search.js'

export default class SagaStart extends BaseCommand<typeof SagaStart> {
  static override summary = 'Enqueue a saga; a worker runs it.'
  static override description = 'Prints the saga id. With --key, starting twice returns the saga the first start created.'
  static override examples = [
    `<%= config.bin %> saga start order-checkout --input '{"customerId":"c-1","items":[{"sku":"sku-1","qty":1}],"amount":25}'`,
    '<%= config.bin %> saga start order-checkout --input @order.json --key order-1042',
    '<%= config.bin %> saga start order-checkout --input @order.json --key order-1042 --tag region=eu --tag channel=web',
  ]
  static override args = {
    definition: Args.string({ description: 'Definition name.', required: true }),
  }
  static override flags = {
    input: Flags.string({ char: 'i', summary: 'Saga input: JSON, or @file.' }),
    key: Flags.string({ summary: 'Idempotency key: the same key returns the same saga.' }),
    version: Flags.integer({ summary: 'Definition version (default: the latest).', min: 1 }),
    ...startTagFlag,
  }

  async run() {
    const input = readJsonInput(this.flags.input)
    const engine = new Engine(await this.db())
    const { saga, created } = await engine.start(this.args.definition, input, {
      key: this.flags.key,
      version: this.flags.version,
      tags: this.flags.tag ? tagsFromTexts(this.flags.tag) : undefined,
    })
    if (!this.jsonEnabled()) {
      this.log(saga.id)
      if (!created) this.logToStderr(`key "${this.flags.key}" already started this saga (${saga.status})`)
    }
    return saga
  }
}
