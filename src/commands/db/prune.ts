import { Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { durationFlag } from '../../cli/flags.js'
import { pruneFinished } from '../../db/prune.js'
import { formatDuration } from '../../engine/duration.js'

export default class DbPrune extends BaseCommand<typeof DbPrune> {
  static override summary = 'Delete finished sagas older than a period, in batches.'
  static override description =
    'Removes completed, compensated and failed sagas whose finish is older than --older-than, with their steps, events and interventions. Active and suspended sagas are never touched; the audit log is kept.'
  static override examples = ['<%= config.bin %> db prune --older-than 30d', '<%= config.bin %> db prune --older-than 7d --dry-run --json']
  static override flags = {
    'older-than': durationFlag({ summary: 'Age of the finish, e.g. 30d.', required: true }),
    batch: Flags.integer({ summary: 'Sagas deleted per transaction.', default: 1000, min: 1, max: 100_000 }),
    'dry-run': Flags.boolean({ summary: 'Count what would be deleted; delete nothing.' }),
  }

  async run() {
    const db = await this.db()
    const before = new Date(Date.now() - this.flags['older-than'])
    const n = await pruneFinished(db, before, { batch: this.flags.batch, dryRun: this.flags['dry-run'] })
    if (!this.jsonEnabled()) {
      const verb = this.flags['dry-run'] ? 'would delete' : 'deleted'
      this.log(`${verb} ${n} finished saga(s) older than ${formatDuration(this.flags['older-than'])}`)
    }
    return { deleted: this.flags['dry-run'] ? 0 : n, matched: n, before: before.toISOString(), dryRun: this.flags['dry-run'] }
  }
}
