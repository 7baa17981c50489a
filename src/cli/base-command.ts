import { stripVTControlCharacters } from 'node:util'
import { Command, Flags, type Interfaces } from '@oclif/core'
import { loadConfig, type Config } from '../config.js'
import { databaseArgs, withDatabaseArgs, type DatabaseFlags } from './db-hint.js'
import { assertSchemaReady } from '../db/migrator.js'
import { DEFAULT_SCHEMA, openDatabase, selectDatabase, type DatabaseChoice } from '../db/open.js'
import { resolveSagaId } from '../db/queries/sagas.js'
import type { Database } from '../db/types.js'
import { NotFoundError, SagactlError, UsageError } from '../errors.js'
import * as out from './output.js'
import { terminalSafe, terminalSafeLine } from './terminal-text.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/**
 * Every command: the database flags, `--json`, and one mapping from errors to exit codes.
 * A command parses its flags, calls the engine, and returns a typed result; with --json
 * the result is printed as one JSON document, otherwise the command renders it.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    'database-url': Flags.string({
      helpGroup: 'GLOBAL',
      summary: 'PostgreSQL URL, or pglite:<dir> for the embedded database.',
      description: 'Else SAGACTL_DATABASE_URL, DATABASE_URL, database.url in sagactl.yaml, or embedded PGlite in ./.sagactl/data.',
    }),
    schema: Flags.string({ helpGroup: 'GLOBAL', summary: `Schema holding sagactl's tables [default: ${DEFAULT_SCHEMA}].` }),
  }

  /** Read commands spread these into their flags: monitoring reads may go to a replica. */
  static readFlags = {
    'read-database-url': Flags.string({
      helpGroup: 'GLOBAL',
      summary: 'A replica for this read-only command (else SAGACTL_READ_DATABASE_URL, database.readUrl in sagactl.yaml, or the main database).',
    }),
  }

  /** Commands that LISTEN spread these into their flags: notifications need a direct connection. */
  static listenFlags = {
    'listen-database-url': Flags.string({
      helpGroup: 'GLOBAL',
      summary: 'A direct connection for LISTEN when --database-url goes through PgBouncer (else SAGACTL_LISTEN_DATABASE_URL, database.listenUrl in sagactl.yaml, or the main database).',
    }),
  }

  /**
   * Long-running commands serve an embedded database to every other sagactl process for
   * as long as they run; the others use it briefly (through the one that serves it, if any).
   */
  protected servesEmbedded(): boolean {
    return false
  }

  /**
   * Daemons (worker, scheduler, metrics) carry on when the process they reach an embedded
   * database through exits: they take the directory over. Other commands exit 9.
   */
  protected recoversEmbedded(): boolean {
    return false
  }

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  private database?: Database
  private readDatabase?: Database
  private cachedConfig?: Config

  public override async init(): Promise<void> {
    await super.init()
    const { args, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
    this.cachedConfig = await loadConfig()
  }

  /** sagactl.yaml, read once in init. */
  protected get settings(): Config {
    return this.cachedConfig ?? {}
  }

  protected databaseChoice(): DatabaseChoice {
    return selectDatabase({ flagUrl: this.flags['database-url'], config: this.settings })
  }

  /** What a hint naming a command must repeat; empty before the flags are parsed. */
  protected databaseFlags(): DatabaseFlags {
    const f = (this.flags ?? {}) as { 'database-url'?: string; schema?: string }
    return { url: f['database-url'], schema: f.schema }
  }

  /** `sagactl <command>` with the flags that chose this database, for hints printed on success. */
  protected sagactlCommand(command: string): string {
    return `sagactl ${command}${databaseArgs(this.databaseFlags())}`
  }

  protected schemaName(): string {
    return this.flags.schema ?? this.settings.schema ?? DEFAULT_SCHEMA
  }

  /** Opens the database once per command; `ready` (the default) also checks the schema is migrated. */
  protected async db(opts: { ready?: boolean; max?: number } = {}): Promise<Database> {
    if (!this.database) {
      this.database = await openDatabase({
        url: this.databaseChoice().url,
        schema: this.schemaName(),
        max: opts.max,
        listenUrl: this.listenUrl(),
        embedded: {
          serve: this.servesEmbedded(),
          recover: this.recoversEmbedded(),
          command: (this.id ?? 'sagactl').replaceAll(':', ' '),
          onWait: (line) => process.stderr.write(`${line}\n`),
        },
      })
      if (opts.ready !== false) await assertSchemaReady(this.database)
    }
    return this.database
  }

  private listenUrl(): string | undefined {
    const flags = this.flags as { 'listen-database-url'?: string }
    return flags['listen-database-url'] ?? (process.env.SAGACTL_LISTEN_DATABASE_URL || undefined) ?? this.settings.database?.listenUrl
  }

  /** The database for reads: the replica when one is configured, else the main database. */
  protected async readDb(): Promise<Database> {
    const flags = this.flags as { 'read-database-url'?: string }
    const url = flags['read-database-url'] ?? process.env.SAGACTL_READ_DATABASE_URL ?? this.settings.database?.readUrl
    if (!url) return this.db()
    if (!this.readDatabase) {
      this.readDatabase = await openDatabase({ url, schema: this.schemaName() })
      await assertSchemaReady(this.readDatabase)
    }
    return this.readDatabase
  }

  /**
   * Where to read one saga: the replica, unless it does not have that saga yet (it lags
   * behind the primary); then the primary, and a note on stderr says so.
   */
  protected async sagaReadDb(idOrPrefix: string): Promise<{ db: Database; id: string }> {
    const read = await this.readDb()
    try {
      return { db: read, id: await resolveSagaId(read, idOrPrefix) }
    } catch (err) {
      const primary = await this.db()
      if (!(err instanceof NotFoundError) || read === primary) throw err
      const id = await resolveSagaId(primary, idOrPrefix)
      process.stderr.write(`note: the replica does not have saga ${id} yet; read from the primary\n`)
      return { db: primary, id }
    }
  }

  // Everything a command prints goes through src/cli/output.ts: terminal-safe lines, JSON
  // without oclif's colouriser, no flush deadline.
  public override log(message = '', ...args: unknown[]): void {
    if (!this.jsonEnabled()) void out.line(process.stdout, message, ...args)
  }

  public override logToStderr(message = '', ...args: unknown[]): void {
    if (!this.jsonEnabled()) void out.line(process.stderr, message, ...args)
  }

  public override logJson(json: unknown): void {
    void out.json(json)
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    const error = toSagactlError(err, this.id ? `${this.config.bin} ${this.id.replaceAll(':', ' ')}` : undefined)
    const hint = withDatabaseArgs(error.hint, this.databaseFlags())
    process.exitCode = error.exitCode
    if (this.jsonEnabled()) {
      this.logJson({ error: { code: error.code, message: error.message, hint: hint ?? null, exitCode: error.exitCode } })
    }
    void out.write(process.stderr, `${terminalSafeLine(`error: ${error.message}${hint ? ` — ${hint}` : ''}`)}\n`)
    if (process.env.DEBUG && err.stack) void out.write(process.stderr, `${terminalSafe(err.stack)}\n`)
  }

  protected override async finally(err: Error | undefined): Promise<void> {
    await this.database?.close().catch(() => {})
    await this.readDatabase?.close().catch(() => {})
    await super.finally(err)
  }
}

/**
 * oclif's parse errors are usage errors (exit 2), on one line that names the command;
 * our own errors keep their code; the rest is a bug (exit 1).
 */
export function toSagactlError(err: Error & { oclif?: { exit?: number } }, command?: string): SagactlError {
  if (err instanceof SagactlError) return err
  if (err.oclif !== undefined) {
    // oclif's own errors are parse errors: bad flags or arguments.
    const reasons = stripVTControlCharacters(err.message)
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('See more help') && !/^The following errors? occurred:$/.test(l))
    const missing = reasons.map((l) => /^Missing required flag:? (\S+)$/.exec(l)?.[1]).filter((f): f is string => f !== undefined)
    const rest = reasons.filter((l) => !/^Missing required flag:? /.test(l))
    const parts = [
      ...(missing.length > 0 ? [`missing required flag${missing.length > 1 ? 's' : ''} ${missing.map((f) => `--${f.replace(/^-+/, '')}`).join(', ')}`] : []),
      ...rest,
    ]
    return new UsageError(`${command ? `${command}: ` : ''}${parts.join('; ')}`, command ? `see: ${command} --help` : 'see --help')
  }
  const wrapped = new SagactlError(`unexpected error: ${err.message.split('\n')[0]}`, process.env.DEBUG ? undefined : 'run with DEBUG=1 for the stack')
  return wrapped
}
