import type { Config } from '../config.js'
import { DEFAULT_THRESHOLDS, type HealthThresholds } from '../db/queries/health.js'
import { parseDuration } from '../engine/duration.js'
import { UsageError } from '../errors.js'

type HealthConfig = NonNullable<Config['health']>

/** Thresholds given as flags (`sagactl health`); undefined falls back to sagactl.yaml, then the defaults. */
export type ThresholdFlags = Partial<Omit<HealthThresholds, 'workerLivenessMs'>> & { workerLivenessMs?: number }

function configDuration(cfg: HealthConfig, key: 'stuckAfter' | 'longRunningAfter' | 'maxCompensationDuration' | 'maxReplicaLag'): number | undefined {
  const v = cfg[key]
  if (v === undefined) return undefined
  try {
    return parseDuration(v)
  } catch (err) {
    throw new UsageError(`sagactl.yaml: health.${key}: ${(err as Error).message}`)
  }
}

/**
 * The alert rules' thresholds: each from its flag, else the health: section of
 * sagactl.yaml, else the default. `sagactl health` and the API's /v1/health use the same.
 */
export function healthThresholds(settings: Config, flags: ThresholdFlags = {}): HealthThresholds {
  const cfg = settings.health ?? {}
  return {
    stuckAfterMs: flags.stuckAfterMs ?? configDuration(cfg, 'stuckAfter') ?? DEFAULT_THRESHOLDS.stuckAfterMs,
    longRunningAfterMs: flags.longRunningAfterMs ?? configDuration(cfg, 'longRunningAfter') ?? DEFAULT_THRESHOLDS.longRunningAfterMs,
    minCompensationSuccess: flags.minCompensationSuccess ?? cfg.minCompensationSuccess ?? DEFAULT_THRESHOLDS.minCompensationSuccess,
    maxOpenInterventions: flags.maxOpenInterventions ?? cfg.maxOpenInterventions ?? DEFAULT_THRESHOLDS.maxOpenInterventions,
    maxCompensationDurationMs: flags.maxCompensationDurationMs ?? configDuration(cfg, 'maxCompensationDuration') ?? DEFAULT_THRESHOLDS.maxCompensationDurationMs,
    workerLivenessMs: flags.workerLivenessMs ?? DEFAULT_THRESHOLDS.workerLivenessMs,
    maxReplicaLagMs: flags.maxReplicaLagMs ?? configDuration(cfg, 'maxReplicaLag') ?? DEFAULT_THRESHOLDS.maxReplicaLagMs,
  }
}
