import { Args } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { controlsText, participantStateText } from '../../cli/participants.js'
import { color, table } from '../../cli/render.js'
import { showParticipant } from '../../engine/participants/controls.js'

export default class ParticipantShow extends BaseCommand<typeof ParticipantShow> {
  static override summary = 'Show one participant: its state, limits, load, and every change of state (who, when, why).'
  static override examples = ['<%= config.bin %> participant show payments', '<%= config.bin %> participant show http://127.0.0.1:7004 --json']
  static override flags = { ...BaseCommand.readFlags }
  static override args = { name: Args.string({ required: true, description: 'Participant name, as participant list prints it.' }) }

  async run() {
    const shown = await showParticipant(await this.readDb(), this.args.name)
    if (!this.jsonEnabled()) {
      const p = shown.participant
      this.log(
        table(
          ['participant', 'state', 'controls', 'calls/min', 'in flight', 'waiting'],
          [[p.name, participantStateText(p.state), controlsText(p), p.callsLastMinute, p.inFlight, p.sagasWaiting]],
        ),
      )
      if (p.paused) this.log(`paused by ${p.paused.by ?? '?'} at ${p.paused.at?.toISOString() ?? '?'}: ${p.paused.reason ?? ''}`)
      this.log('')
      this.log(shown.events.length ? table(['time', 'change', 'by', 'why'], shown.events.map((e) => [e.at.toISOString(), e.type, e.actor, e.reason ?? ''])) : color.dim('no changes of state yet'))
    }
    return shown
  }
}
