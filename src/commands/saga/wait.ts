import { Args } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { durationFlag } from '../../cli/flags.js'
import { formatDuration } from '../../engine/duration.js'
import { status } from '../../cli/render.js'
import { EXIT_BY_STATUS } from '../../cli/saga-exit.js'
import { waitForSaga } from '../../engine/wait.js'
import { errorLine, ExitCode } from '../../errors.js'

export default class SagaWait extends BaseCommand<typeof SagaWait> {
  static override summary = 'Wait until a saga is finished or suspended, and exit with its code.'
  static override description =
    'Exit 0 completed, 5 compensated, 6 suspended (an intervention is open), 7 failed, as "saga run" does; 11 when --timeout passes first (the saga goes on); 3 when there is no such saga. ' +
    'It executes nothing: a worker (or "saga run") must be running it. Woken by the notifications its transitions send, and by a poll every second in case one is lost. ' +
    'Prints the saga (--json: the saga object) once it has settled, or as it was when the wait timed out. Without --timeout it waits until the saga settles or Ctrl-C.'
  static override examples = [
    '<%= config.bin %> saga wait 0193ab12',
    '<%= config.bin %> saga wait key:order-1042 --timeout 5m',
    '<%= config.bin %> saga wait "$(sagactl saga start order-checkout --input @order.json --json | jq -r .id)" --timeout 10m --json',
  ]
  static override args = {
    id: Args.string({ description: 'Saga id, unique prefix or key:<start key>.', required: true }),
  }
  static override flags = {
    timeout: durationFlag({ summary: 'Give up after this long (exit 11), e.g. 90s or 5m [default: no limit].' }),
    ...BaseCommand.readFlags,
    ...BaseCommand.listenFlags,
  }

  /** A wait can last long: other commands meanwhile go through this process. */
  protected override servesEmbedded(): boolean {
    return true
  }

  async run() {
    const { db, id } = await this.sagaReadDb(this.args.id)
    const result = await waitForSaga(db, await this.db(), id, {
      timeoutMs: this.flags.timeout,
      onPollOnly: (err) => process.stderr.write(`notice: live updates unavailable (${errorLine(err)}); polling every second\n`),
    })
    const { saga } = result
    process.exitCode = result.timedOut ? ExitCode.waitTimeout : (EXIT_BY_STATUS[saga.status] ?? ExitCode.unexpected)
    if (result.timedOut) process.stderr.write(`timed out after ${formatDuration(this.flags.timeout ?? 0)}: saga ${saga.id} is still ${saga.status}\n`)
    else if (!this.jsonEnabled()) this.log(`saga ${saga.id} ${status(saga.status)}${saga.currentStep && saga.status === 'suspended' ? ` at ${saga.currentStep}` : ''}`)
    return saga
  }
}
