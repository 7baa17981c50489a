import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base-command.js'
import { PACKAGED_EXAMPLES_DIR, STARTER_FILES } from '../cli/examples.js'
import { color } from '../cli/render.js'
import { ConflictError } from '../errors.js'

export interface InitResult {
  dir: string
  files: Array<{ file: string; result: 'created' | 'unchanged' | 'replaced' }>
}

export default class Init extends BaseCommand<typeof Init> {
  static override summary = "Write the example saga (definition and input) into a directory, to start from."
  static override description =
    'Writes examples/order-checkout.yaml (the order-checkout definition of the demo, calling six services whose URLs come from DEMO_*_URL variables) ' +
    'and examples/order.json (an input for it) under the directory, and prints the commands that run it. A file that is already there with other ' +
    'content is left alone (exit 4, nothing written) unless --force. Touches no database.'
  static override examples = ['<%= config.bin %> init', '<%= config.bin %> init my-sagas', '<%= config.bin %> init --force --json']
  static override args = {
    dir: Args.string({ description: 'Where to write examples/ [default: the current directory].', default: '.' }),
  }
  static override flags = {
    force: Flags.boolean({ summary: 'Replace example files that differ from the packaged ones.' }),
  }

  async run(): Promise<InitResult> {
    const dir = this.args.dir
    const plan = STARTER_FILES.map((name) => {
      const target = join(dir, 'examples', name)
      const content = readFileSync(join(PACKAGED_EXAMPLES_DIR, name), 'utf8')
      const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined
      return { target, content, result: current === undefined ? ('created' as const) : current === content ? ('unchanged' as const) : ('replaced' as const) }
    })
    // Checked for every file before any is written: a refusal leaves the directory as it was.
    const differing = plan.filter((p) => p.result === 'replaced')
    if (differing.length > 0 && !this.flags.force) {
      throw new ConflictError(`${differing.map((p) => p.target).join(', ')} already there with other content`, 'keep it, or replace it: sagactl init --force')
    }
    mkdirSync(join(dir, 'examples'), { recursive: true })
    for (const p of plan) if (p.result !== 'unchanged') writeFileSync(p.target, p.content)

    if (!this.jsonEnabled()) {
      for (const p of plan) this.log(`${p.result === 'unchanged' ? color.gray(p.result) : color.green(p.result)} ${p.target}`)
      const here = relative(process.cwd(), dir)
      const at = (file: string) => join(here, 'examples', file)
      this.log('')
      this.log('Next, from this directory:')
      this.log(`  sagactl demo --services-only     # in another terminal: the six services; it prints the DEMO_*_URL exports`)
      this.log(`  sagactl db migrate`)
      this.log(`  sagactl def apply ${at('order-checkout.yaml')}`)
      this.log(`  sagactl saga start order-checkout --input @${at('order.json')} --key order-1042`)
      this.log(`  sagactl worker                   # with the exports in its environment`)
    }
    return { dir, files: plan.map((p) => ({ file: p.target, result: p.result })) }
  }
}
