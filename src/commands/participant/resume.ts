import { Args } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { operatorFlags, rpsFlag } from '../../cli/bulk.js'
import { textFlag } from '../../cli/flags.js'
import { resumeParticipant } from '../../engine/participants/controls.js'
import { currentOperator } from '../../engine/operator.js'

export default class ParticipantResume extends BaseCommand<typeof ParticipantResume> {
  static override summary = 'Let calls to a participant go again, optionally at most n per second across every worker.'
  static override description =
    'Wakes the sagas waiting for it (spread over time at --rps). --rps stays in force until the next resume; a resume without ' +
    '--rps lifts it. A rate in a definition still applies: the lower of the two wins. Recorded in the audit log and as an event on the participant.'
  static override examples = [
    '<%= config.bin %> participant resume payments --reason "PSP back"',
    '<%= config.bin %> participant resume payments --rps 5 --reason "ramp up slowly"',
  ]
  static override flags = {
    rps: rpsFlag({ summary: 'At most this many calls per second to it, across every worker and pass.' }),
    reason: textFlag({ summary: 'Why, for the audit log.' }),
    ...operatorFlags,
  }
  static override args = { name: Args.string({ required: true, description: 'Participant name, as participant list prints it.' }) }

  async run() {
    const f = this.flags
    const p = await resumeParticipant(await this.db(), this.args.name, { operator: currentOperator(f.operator), reason: f.reason, rps: f.rps })
    if (!this.jsonEnabled()) this.log(`resumed ${p.name}${f.rps ? ` at most ${f.rps} calls/s` : ''}: ${p.woken} waiting saga(s) woken`)
    return p
  }
}
