// Secrets stay out of definitions and out of the database: a definition holds
// `${env:NAME}` and the worker resolves it at call time. Messages name the variable,
// never its value, because they end up in step errors, events and terminals.
import type { HttpCall, SagaDefinition } from './definition.js'

const REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g
const ANY_REF = /\$\{([^}]*)\}/g

export function resolveEnvRefs(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(REF, (_match, name: string) => {
    const resolved = env[name]
    if (resolved === undefined) throw new Error(`environment variable ${name} is not set`)
    return resolved
  })
}

/** Names of the variables a string refers to, in order of appearance. */
export function envRefNames(value: string): string[] {
  return [...value.matchAll(REF)].map((m) => m[1] as string)
}

/**
 * The first `${...}` that is not a well-formed `${env:NAME}`, if any: caught when a
 * definition is validated rather than sent to a service as literal text.
 */
export function malformedRef(value: string): string | undefined {
  for (const m of value.matchAll(ANY_REF)) {
    if (!/^env:[A-Za-z_][A-Za-z0-9_]*$/.test(m[1] as string)) return m[0]
  }
  return undefined
}

/** A resolved copy of the call; the definition object is shared and never mutated. */
export function resolveCallEnv(call: HttpCall, env: NodeJS.ProcessEnv = process.env): HttpCall {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(call.http.headers)) headers[k] = resolveEnvRefs(v, env)
  return { http: { ...call.http, url: resolveEnvRefs(call.http.url, env), headers } }
}

/** Every value a call's references resolve to, in its URL or its headers: none may be stored or printed. */
export function callSecrets(call: HttpCall, env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = []
  for (const v of [call.http.url, ...Object.values(call.http.headers)]) {
    for (const name of envRefNames(v)) {
      const s = env[name]
      if (s !== undefined) out.push(s)
    }
  }
  return out
}

/** Every variable a definition's http calls refer to that `env` does not set, with where it is used. */
export function missingEnvRefs(defs: SagaDefinition[], env: NodeJS.ProcessEnv = process.env): Array<{ variable: string; where: string }> {
  const out: Array<{ variable: string; where: string }> = []
  for (const def of defs) {
    for (const step of def.steps) {
      for (const call of [step.action, step.compensation]) {
        if (!call || !('http' in call)) continue
        for (const text of [call.http.url, ...Object.values(call.http.headers)]) {
          for (const variable of envRefNames(text)) if (env[variable] === undefined) out.push({ variable, where: `${def.name} ${step.name}` })
        }
      }
    }
  }
  return out
}
