import { readFileSync } from 'node:fs'
import { definitionChecksum, parseDefinition, type Problem, type SagaDefinition } from '../engine/definition.js'
import { UsageError } from '../errors.js'
import { EXAMPLES_HINT } from './examples.js'

export interface LoadedDefinition {
  file: string
  text: string
  definition?: SagaDefinition
  checksum?: string
  problems: Problem[]
}

/** Reads and checks one definition file; the problems carry the path exactly as the user wrote it. */
export function loadDefinitionFile(file: string): LoadedDefinition {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.code === 'EACCES' ? 'permission denied' : e.message
    throw new UsageError(`cannot read ${file}: ${why}`, e.code === 'ENOENT' ? EXAMPLES_HINT : undefined)
  }
  const parsed = parseDefinition(text, file)
  return {
    file,
    text,
    problems: parsed.problems,
    ...(parsed.definition ? { definition: parsed.definition, checksum: definitionChecksum(parsed.source) } : {}),
  }
}

export const formatProblem = (p: Problem): string => `${p.file}:${p.line}:${p.col} ${p.message}`
