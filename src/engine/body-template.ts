// A `body:` on an http call is a JSON value whose strings may refer to the saga's input
// and to earlier steps' outputs: `${input.amount}`, `${results.create-order.orderId}`.
// A string that is exactly one reference takes the referenced value with its JSON type
// (a number stays a number); a reference inside longer text is spliced in as text.
// Secrets are not allowed here: a body is sent to the participant and may be logged by
// it, so `${env:...}` belongs in headers, where sagactl scrubs it from error messages.

const REF = /\$\{([^}]*)\}/g
const WHOLE = /^\$\{([^}]*)\}$/
const PATH = /^(input|results)(\.[^.]+)*$/

export interface BodyScope {
  input: unknown
  results: Record<string, unknown>
}

/** Why a reference in a body template cannot work, or undefined when it can. */
export function badBodyRef(ref: string): string | undefined {
  if (ref.startsWith('env:')) return `\${${ref}}: a body cannot hold secrets; put \${env:...} in a header`
  if (!PATH.test(ref)) return `\${${ref}}: write \${input}, \${input.<field>} or \${results.<step>.<field>}`
  return undefined
}

/** Every problem in a template, each with the path of the string it is in. */
export function bodyProblems(template: unknown, path: (string | number)[] = []): Array<{ path: (string | number)[]; message: string }> {
  if (typeof template === 'string') {
    return [...template.matchAll(REF)].flatMap((m) => {
      const bad = badBodyRef(m[1] as string)
      return bad ? [{ path, message: bad }] : []
    })
  }
  if (Array.isArray(template)) return template.flatMap((v, i) => bodyProblems(v, [...path, i]))
  if (template !== null && typeof template === 'object') {
    return Object.entries(template).flatMap(([k, v]) => bodyProblems(v, [...path, k]))
  }
  return []
}

function lookup(ref: string, scope: BodyScope): unknown {
  const [root, ...rest] = ref.split('.')
  let value: unknown
  let segs = rest
  if (root === 'input') {
    value = scope.input
  } else {
    // Step names may contain dots: take the longest step name the path starts with.
    const tail = rest.join('.')
    const name = Object.keys(scope.results)
      .filter((n) => tail === n || tail.startsWith(`${n}.`))
      .sort((a, b) => b.length - a.length)[0]
    if (name === undefined) throw new Error(`\${${ref}}: no earlier step "${rest[0] ?? ''}" has an output`)
    value = scope.results[name]
    segs = tail === name ? [] : tail.slice(name.length + 1).split('.')
  }
  for (const seg of segs) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, seg)) {
      throw new Error(`\${${ref}} is not set ("${seg}" is missing)`)
    }
    value = (value as Record<string, unknown>)[seg]
  }
  return value
}

/** The template with every reference replaced; throws when one refers to nothing. */
export function renderBody(template: unknown, scope: BodyScope): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template)
    if (whole) return lookup(whole[1] as string, scope) ?? null
    return template.replace(REF, (_m, ref: string) => {
      const v = lookup(ref, scope)
      return typeof v === 'string' ? v : JSON.stringify(v ?? null)
    })
  }
  if (Array.isArray(template)) return template.map((v) => renderBody(v, scope))
  if (template !== null && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, renderBody(v, scope)]))
  }
  return template
}
