import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { actionTarget, bulkSelectionFlags, findSaga, operatorFlags, sagaAction } from '../../cli/bulk.js'
import { textFlag } from '../../cli/flags.js'
import { shortId } from '../../cli/format.js'
import { migratePlanText } from '../../cli/repair-format.js'
import { Engine } from '../../engine/engine.js'
import { parseVersionChoice } from '../../engine/fork.js'
import { migratePlan, migrateRowRefusal, migrateSaga } from '../../engine/migrate.js'
import { currentOperator } from '../../engine/operator.js'
import { ExitCode, UsageError } from '../../errors.js'

export default class SagaMigrate extends BaseCommand<typeof SagaMigrate> {
  static override summary = 'Move a saga, or every saga the filters select, to another version of its definition.'
  static override description =
    'Steps are mapped by name. From its next call the saga uses the new version: its URLs, timeouts, retry policies and compensations; what already ran is kept, and the saga stays where it is (a suspended saga stays suspended: retry it). ' +
    'The deadline moves by the difference between the two versions\' timeouts. ' +
    'Refused (exit 4, nothing changed) when a step that already ran is missing from the new version or comes before another step that already ran there or after the current step (it would run again), when the new version puts a step that has not run before the current one, when a step being compensated has no compensation there, or when a call is in flight (a worker holds the saga). --dry-run prints the mapping and says when it would be refused. ' +
    'Bulk form: filter flags (with --def) instead of an id; prints how many match, asks before acting (--yes skips), and reports succeeded, refused and changed meanwhile, like the other bulk actions.'
  static override examples = [
    '<%= config.bin %> saga migrate key:order-1042 --to-version latest --dry-run',
    '<%= config.bin %> saga migrate 0193ab12 --to-version 3 --reason "payment URL corrected in v3"',
    '<%= config.bin %> saga migrate --def order-checkout --version 2 --status suspended,running --to-version 3 --dry-run',
    '<%= config.bin %> saga migrate --def order-checkout --version 2 --to-version latest --reason "new URL" --yes --rps 20',
  ]
  static override args = {
    id: Args.string({ description: 'Saga id, unique prefix or key:<start key>; omit it and give filter flags for the bulk form.' }),
  }
  static override flags = {
    'to-version': Flags.string({ summary: 'The version to move to: a number, or latest.', required: true }),
    reason: textFlag({ summary: 'Why, for the audit log (required unless --dry-run).' }),
    ...operatorFlags,
    ...bulkSelectionFlags,
    'dry-run': Flags.boolean({ summary: 'With an id: print the step mapping; with filters: list the sagas. Change nothing.' }),
  }

  async run() {
    const f = this.flags
    const toVersion = parseVersionChoice(f['to-version'], '--to-version')
    if (!f['dry-run'] && !f.reason) throw new UsageError('--reason is required: say why, for the audit log')
    const target = actionTarget(this.args.id, f)
    const db = await this.db()
    const engine = new Engine(db)
    const ctx = { operator: currentOperator(f.operator), reason: f.reason, toVersion }
    if (target.kind === 'one') {
      const before = await findSaga(db, target.id)
      if (f['dry-run']) {
        const plan = await migratePlan(engine, before.id, toVersion)
        if (!this.jsonEnabled()) this.log(migratePlanText(plan))
        if (!plan.allowed) process.exitCode = ExitCode.conflict
        return plan
      }
      const after = await migrateSaga(engine, before.id, { ...ctx, expectedRevision: before.revision })
      if (!this.jsonEnabled()) this.log(`migrated ${shortId(before.id)}… from ${before.definition}@${before.version} to @${after.version} (${after.status})`)
      return after
    }
    if (!f.def) throw new UsageError('the bulk form needs --def: versions belong to one definition', 'add --def <name> (and --version <n> to select the sagas on one version)')
    // A version that does not exist is not found (exit 3) before anything is counted or asked.
    const version = toVersion === 'latest' ? (await engine.defs.latest(f.def)).version : (await engine.defs.latest(f.def, toVersion)).version
    return sagaAction({
      db,
      target,
      flags: f,
      verb: 'Migrate',
      done: 'migrated',
      warning: `to ${f.def}@${version}`,
      eligibility: (s, now) => migrateRowRefusal(s, version, now),
      json: this.jsonEnabled(),
      log: (line) => this.log(line),
      act: (id, expectedRevision) => migrateSaga(engine, id, { ...ctx, toVersion: version, expectedRevision }),
    })
  }
}
