import { Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { confirmOrRefuse } from '../../cli/confirm.js'
import { periodFlag } from '../../cli/flags.js'
import { pruneFinished } from '../../db/prune.js'
import { formatDuration, formatPeriod } from '../../engine/duration.js'
import { UsageError } from '../../errors.js'

/** Below this, --older-than is almost certainly a slip (`30` for 30 days, `0`): it needs --force. */
export const MIN_PRUNE_AGE_MS = 3_600_000

export default class DbPrune extends BaseCommand<typeof DbPrune> {
  static override summary = 'Delete finished sagas older than a period, in batches.'
  static override description =
    'Removes completed, compensated and failed sagas whose finish is older than --older-than, with their steps, events and interventions. Active and suspended sagas are never touched; the audit log is kept. ' +
    'Prints how many sagas match and asks before deleting (--yes skips the question; without a terminal --yes is required). ' +
    '--older-than needs a unit and is at least 1h unless --force.'
  static override examples = [
    '<%= config.bin %> db prune --older-than 30d',
    '<%= config.bin %> db prune --older-than 7d --dry-run --json',
    { description: 'From cron: no terminal to ask, so --yes.', command: '<%= config.bin %> db prune --older-than 90d --yes' },
  ]
  static override flags = {
    'older-than': periodFlag({ summary: 'Age of the finish, with a unit: 30d, 12h.', required: true }),
    batch: Flags.integer({ summary: 'Sagas deleted per transaction.', default: 1000, min: 1, max: 100_000 }),
    'dry-run': Flags.boolean({ summary: 'Count what would be deleted; delete nothing.' }),
    yes: Flags.boolean({ char: 'y', summary: 'Delete without asking; required when stdin is not a terminal.' }),
    force: Flags.boolean({ summary: `Allow --older-than under ${formatDuration(MIN_PRUNE_AGE_MS)}.` }),
  }

  async run() {
    const age = this.flags['older-than']
    if (age < MIN_PRUNE_AGE_MS && !this.flags.force) {
      throw new UsageError(
        `--older-than ${formatDuration(age)} would also delete sagas that finished in the last hour`,
        `give at least 1h (e.g. --older-than 30d), or add --force`,
      )
    }
    const db = await this.db()
    const before = new Date(Date.now() - age)
    const matched = await pruneFinished(db, before, { dryRun: true })
    const what = `${matched} finished saga(s)`
    const match = `${what} older than ${formatPeriod(age)} (finished before ${before.toISOString()})`
    const result = { deleted: 0, matched, before: before.toISOString(), dryRun: this.flags['dry-run'] }
    if (this.flags['dry-run']) {
      this.log(`would delete ${match}`)
      return result
    }
    this.logToStderr(`${match} match`)
    if (matched === 0) return result
    if (!(await confirmOrRefuse(`delete ${what} with their steps, events and interventions?`, { yes: this.flags.yes, what }))) return result
    result.deleted = await pruneFinished(db, before, { batch: this.flags.batch })
    if (!this.jsonEnabled()) this.log(`deleted ${result.deleted} finished saga(s) older than ${formatPeriod(age)}`)
    return result
  }
}
