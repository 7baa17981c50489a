import { Args } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { operatorFlags } from '../../cli/bulk.js'
import { textFlag } from '../../cli/flags.js'
import { pauseParticipant } from '../../engine/participants/controls.js'
import { currentOperator } from '../../engine/operator.js'

export default class ParticipantPause extends BaseCommand<typeof ParticipantPause> {
  static override summary = 'Stop every worker and scheduler pass from calling a participant; sagas wait without using attempts.'
  static override description =
    'Calls in flight finish normally. Sagas that reach the participant wait in the database, use no attempt and do not move ' +
    'towards compensation (a saga deadline still applies); saga list and saga show say what they wait for. The command returns ' +
    'once every process has seen the pause (about a second). Recorded in the audit log and as an event on the participant.'
  static override examples = [
    '<%= config.bin %> participant pause payments --reason "PSP maintenance until 03:00, ticket 4411"',
    '<%= config.bin %> participant pause http://10.0.4.7:8080 --reason "answers 500 to every refund" --operator alice --json',
  ]
  static override flags = {
    reason: textFlag({ summary: 'Why, for the audit log and everyone who looks.', required: true }),
    ...operatorFlags,
  }
  static override args = { name: Args.string({ required: true, description: 'Participant name, as participant list prints it.' }) }

  async run() {
    const p = await pauseParticipant(await this.db(), this.args.name, { operator: currentOperator(this.flags.operator), reason: this.flags.reason })
    if (!this.jsonEnabled()) this.log(`paused ${p.name}: no new calls; ${p.inFlight} in flight finish, ${p.sagasWaiting} saga(s) waiting`)
    return p
  }
}
