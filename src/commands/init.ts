import { join, relative } from 'node:path'
import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base-command.js'
import { writeStarterFiles, type StarterFile } from '../cli/examples.js'
import { color } from '../cli/render.js'

export interface InitResult {
  dir: string
  files: StarterFile[]
}

export default class Init extends BaseCommand<typeof Init> {
  static override summary = 'Write the example saga (definition and input) into a directory, to start from.'
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
    const files = writeStarterFiles(dir, { force: this.flags.force })
    if (!this.jsonEnabled()) {
      for (const f of files) this.log(`${f.result === 'unchanged' ? color.gray(f.result) : color.green(f.result)} ${f.file}`)
      const here = relative(process.cwd(), dir)
      const at = (file: string) => join(here, 'examples', file)
      this.log('')
      this.log('Next, from this directory:')
      this.log('  sagactl demo --services-only --failure-rate 0   # in another terminal: the six services; it prints the DEMO_*_URL exports')
      this.log('  sagactl db migrate')
      this.log(`  sagactl def apply ${at('order-checkout.yaml')}`)
      this.log(`  sagactl saga start order-checkout --input @${at('order.json')} --key order-1042`)
      this.log('  sagactl worker                                  # with those exports in its environment')
    }
    return { dir, files }
  }
}
