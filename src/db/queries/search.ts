import { containmentDocs, type SagaSearch } from '../../engine/search.js'

/**
 * The search as WHERE conditions. Tags and input are matched by jsonb containment, which
 * the GIN indexes sagas_tags and sagas_input (jsonb_path_ops) serve; the key by
 * sagas_idempotency_key. `add` binds a parameter and returns its placeholder.
 */
export function searchConditions(s: SagaSearch, add: (v: unknown) => string): string[] {
  const conds: string[] = []
  if (s.key !== undefined) conds.push(`idempotency_key = ${add(s.key)}`)
  if (s.tags && Object.keys(s.tags).length > 0) conds.push(`tags @> ${add(JSON.stringify(s.tags))}::jsonb`)
  for (const m of s.where ?? []) {
    const docs = containmentDocs(m).map((d) => `input @> ${add(JSON.stringify(d))}::jsonb`)
    conds.push(docs.length === 1 ? docs[0]! : `(${docs.join(' OR ')})`)
  }
  return conds
}
