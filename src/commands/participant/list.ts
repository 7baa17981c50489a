import { BaseCommand } from '../../cli/base-command.js'
import { participantTable } from '../../cli/participants.js'
import { listParticipants } from '../../engine/participants/controls.js'

export default class ParticipantList extends BaseCommand<typeof ParticipantList> {
  static override summary = 'List participants (what steps call) with their load and state.'
  static override description =
    'A participant is an http step\'s scheme://host:port, a module step\'s module path, or the name a step gives with "participant:". ' +
    'Per participant: calls that ended in the last minute, the share of them that failed transiently (408, 429, 5xx, connection errors, timeouts), ' +
    'p50/p95 latency (the upper bound of a histogram bucket), calls in flight, sagas waiting for it, and its state: ' +
    'ok, paused (by an operator), open or half-open (circuit breaker), limited (sagas wait for a limit, or an operator rate is set).'
  static override examples = ['<%= config.bin %> participant list', '<%= config.bin %> participant list --json']
  static override flags = { ...BaseCommand.readFlags }

  async run() {
    const items = await listParticipants(await this.readDb())
    if (!this.jsonEnabled()) this.log(items.length ? participantTable(items) : 'no participants yet: a worker records each one at its first call')
    return { items, next: null }
  }
}
