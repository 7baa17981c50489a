import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { z } from 'zod'
import { UsageError } from './errors.js'

/**
 * `sagactl.yaml` in the current directory (or the file SAGACTL_CONFIG names). Every key is
 * optional. yaml and zod are loaded only when the file exists: every command reads the
 * configuration, and most machines have none.
 */
const configSchema = async () => {
  const { z } = await import('zod')
  return z
    .object({
      database: z
        .object({ url: z.string().min(1).optional(), readUrl: z.string().min(1).optional(), listenUrl: z.string().min(1).optional() })
        .strict()
        .optional(),
      schema: z.string().optional(),
      health: z
        .object({
          stuckAfter: z.union([z.string(), z.number()]).optional(),
          longRunningAfter: z.union([z.string(), z.number()]).optional(),
          minCompensationSuccess: z.number().min(0).max(1).optional(),
          maxOpenInterventions: z.number().int().min(0).optional(),
          maxCompensationDuration: z.union([z.string(), z.number()]).optional(),
          maxReplicaLag: z.union([z.string(), z.number()]).optional(),
        })
        .strict()
        .optional(),
    })
    .strict()
}

export type Config = z.infer<Awaited<ReturnType<typeof configSchema>>>

export function configPath(cwd = process.cwd(), env = process.env): string {
  return env.SAGACTL_CONFIG ? resolve(cwd, env.SAGACTL_CONFIG) : resolve(cwd, 'sagactl.yaml')
}

export async function loadConfig(cwd = process.cwd(), env = process.env): Promise<Config> {
  const file = configPath(cwd, env)
  if (!existsSync(file)) {
    if (env.SAGACTL_CONFIG) throw new UsageError(`config file not found: ${file}`)
    return {}
  }
  const { parse } = await import('./config-yaml.js')
  let raw: unknown
  try {
    raw = parse(readFileSync(file, 'utf8')) ?? {}
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message.split('\n')[0]}`)
  }
  const parsed = (await configSchema()).safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new UsageError(`${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  return parsed.data
}
