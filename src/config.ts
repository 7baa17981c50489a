import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parse } from 'yaml'
import { z } from 'zod'
import { UsageError } from './errors.js'

/** `sagactl.yaml` in the current directory (or the file SAGACTL_CONFIG names). Every key is optional. */
const ConfigSchema = z
  .object({
    database: z.object({ url: z.string().min(1).optional(), readUrl: z.string().min(1).optional() }).strict().optional(),
    schema: z.string().optional(),
    health: z
      .object({
        stuckAfter: z.union([z.string(), z.number()]).optional(),
        longRunningAfter: z.union([z.string(), z.number()]).optional(),
        minCompensationSuccess: z.number().min(0).max(1).optional(),
        maxOpenInterventions: z.number().int().min(0).optional(),
        maxCompensationDuration: z.union([z.string(), z.number()]).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()

export type Config = z.infer<typeof ConfigSchema>

export function configPath(cwd = process.cwd(), env = process.env): string {
  return env.SAGACTL_CONFIG ? resolve(cwd, env.SAGACTL_CONFIG) : resolve(cwd, 'sagactl.yaml')
}

export function loadConfig(cwd = process.cwd(), env = process.env): Config {
  const file = configPath(cwd, env)
  if (!existsSync(file)) {
    if (env.SAGACTL_CONFIG) throw new UsageError(`config file not found: ${file}`)
    return {}
  }
  let raw: unknown
  try {
    raw = parse(readFileSync(file, 'utf8')) ?? {}
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message.split('\n')[0]}`)
  }
  const parsed = ConfigSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new UsageError(`${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  return parsed.data
}
