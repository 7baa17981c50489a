import type { ParticipantSummary } from '../engine/participants/controls.js'
import type { Saga, SagaStatus } from '../engine/types.js'
import { LIVE_STATUSES, type DefinitionStats, type FailureGroup, type InterventionItem, type StuckSaga } from './data.js'

export type ViewName = 'live' | 'stuck' | 'interventions' | 'definitions' | 'groups' | 'participants'
export const VIEWS: readonly ViewName[] = ['live', 'stuck', 'interventions', 'definitions', 'groups', 'participants']
export const VIEW_TITLES: Record<ViewName, string> = {
  live: 'Live',
  stuck: 'Stuck',
  interventions: 'Interventions',
  definitions: 'Definitions',
  groups: 'Failure groups',
  participants: 'Participants',
}

export interface ViewRows {
  live: Saga[]
  stuck: StuckSaga[]
  interventions: InterventionItem[]
  definitions: DefinitionStats[]
  groups: FailureGroup[]
  participants: ParticipantSummary[]
}

export const emptyRows = (): ViewRows => ({ live: [], stuck: [], interventions: [], definitions: [], groups: [], participants: [] })

/** What identifies a row across refreshes, so the selection follows the row and not the position. */
export function rowKey<V extends ViewName>(view: V, row: ViewRows[V][number]): string {
  switch (view) {
    case 'live':
      return (row as Saga).id
    case 'stuck':
      return (row as StuckSaga).saga.id
    case 'interventions':
      return (row as InterventionItem).intervention.id
    case 'definitions':
      return (row as DefinitionStats).name
    case 'participants':
      return (row as ParticipantSummary).name
    default:
      return (row as FailureGroup).key
  }
}

/** `active` = every status that is not finished; `all` includes the finished ones. */
export type StatusFilter = 'active' | 'all' | SagaStatus
export const STATUS_FILTERS: readonly StatusFilter[] = ['active', 'pending', 'running', 'compensating', 'suspended', 'completed', 'compensated', 'failed', 'all']

export function statusesFor(filter: StatusFilter): readonly SagaStatus[] | undefined {
  if (filter === 'all') return undefined
  if (filter === 'active') return LIVE_STATUSES
  return [filter]
}

export interface LiveFilter {
  status: StatusFilter
  definition: string | null
  text: string
}
