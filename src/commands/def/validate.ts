import { Args } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { errLine } from '../../cli/output.js'
import { color } from '../../cli/render.js'
import { formatProblem, loadDefinitionFile } from '../../cli/definition-file.js'

export default class DefValidate extends BaseCommand<typeof DefValidate> {
  static override summary = 'Check a definition file without touching the database.'
  static override description =
    'Prints OK with the definition name and step count, or every problem as file:line:col message on stderr (the format editors and CI annotate). Exit 2 when the file has problems.'
  static override examples = [
    '<%= config.bin %> def validate examples/order-checkout.yaml',
    '<%= config.bin %> def validate defs/payment.json --json',
  ]
  static override args = {
    file: Args.string({ required: true, description: 'A definition file (YAML or JSON).' }),
  }

  async run() {
    const loaded = loadDefinitionFile(this.args.file)
    const valid = loaded.problems.length === 0
    const out = {
      file: loaded.file,
      valid,
      ...(loaded.definition ? { name: loaded.definition.name, steps: loaded.definition.steps.length } : {}),
      problems: loaded.problems,
    }
    if (!valid) process.exitCode = 2
    if (!this.jsonEnabled()) {
      if (valid) this.log(`${color.green('OK')} ${loaded.file}: ${out.name} (${out.steps} step${out.steps === 1 ? '' : 's'})`)
      else for (const p of loaded.problems) void errLine(formatProblem(p))
    }
    return out
  }
}
