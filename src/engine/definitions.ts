import { getDefinition, type StoredDefinition } from '../db/definitions.js'
import type { Queryable } from '../db/types.js'
import { NotFoundError } from '../errors.js'

/** Definition versions never change once stored, so a worker caches them for its lifetime. */
export class DefinitionCache {
  private readonly byVersion = new Map<string, Promise<StoredDefinition>>()
  /** The versions read so far, by `name@version`. */
  readonly loaded = new Map<string, StoredDefinition>()

  constructor(private readonly q: Queryable) {}

  /** `q` lets a caller inside a transaction read through it (PGlite has one connection). */
  get(name: string, version: number, q: Queryable = this.q): Promise<StoredDefinition> {
    const key = `${name}@${version}`
    let found = this.byVersion.get(key)
    if (!found) {
      found = getDefinition(q, name, version).then((d) => {
        if (!d) throw new NotFoundError(`definition "${name}" version ${version} not found`)
        this.loaded.set(key, d)
        return d
      })
      found.catch(() => this.byVersion.delete(key))
      this.byVersion.set(key, found)
    }
    return found
  }

  /** The latest version is read from the database every time: a new apply must be seen at once. */
  async latest(name: string, version?: number): Promise<StoredDefinition> {
    const d = await getDefinition(this.q, name, version)
    if (!d) {
      const latest = version === undefined ? null : await getDefinition(this.q, name)
      throw new NotFoundError(
        version === undefined || !latest ? `definition "${name}" not found` : `definition "${name}" has no version ${version} (latest is ${latest.version})`,
        version === undefined ? 'apply it first: sagactl def apply <file>' : undefined,
      )
    }
    this.byVersion.set(`${name}@${d.version}`, Promise.resolve(d))
    this.loaded.set(`${name}@${d.version}`, d)
    return d
  }
}
