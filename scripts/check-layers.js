#!/usr/bin/env node
// Keeps dependencies pointing one way: commands -> engine -> storage <- db.
// The engine and the storage layer must never import the CLI or the terminal UI.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

const rules = [
  { dir: 'src/engine', forbidden: [/^@oclif\//, /^ink(-|$|\/)/, /^react(\/|$)/, /\/cli\//, /\/ui\//, /\/commands\//, /\/demo\//, /\/http\//, /^hono(\/|$)/, /^@hono\//] },
  { dir: 'src/db', forbidden: [/^@oclif\//, /^ink(-|$|\/)/, /^react(\/|$)/, /\/cli\//, /\/ui\//, /\/commands\//, /\/engine\/worker/, /\/http\//, /^hono(\/|$)/, /^@hono\//] },
  // The HTTP API calls the engine and the query modules, like the commands do, but never the CLI or the UI.
  { dir: 'src/http', forbidden: [/^@oclif\//, /^ink(-|$|\/)/, /^react(\/|$)/, /\/cli\//, /\/ui\//, /\/commands\//, /\/demo\//] },
]

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : /\.tsx?$/.test(name) ? [path] : []
  })
}

const problems = []
for (const rule of rules) {
  for (const file of files(rule.dir)) {
    const source = readFileSync(file, 'utf8')
    for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = match[1] ?? match[2]
      if (rule.forbidden.some((re) => re.test(spec))) problems.push(`${file}: imports ${spec}`)
    }
  }
}
if (problems.length > 0) {
  console.error(`layering violations (the engine and db layers must not depend on the CLI or UI):\n${problems.join('\n')}`)
  process.exit(1)
}
