import { useCallback, useRef, type Dispatch } from 'react'
import type { OperatorActions } from '../../engine/actions.js'
import { versionOf, type DialogState, type Loadable, type RepairPlan } from '../components/dialog/dialog-state.js'
import type { MonitorData } from '../data.js'
import { shortId } from '../format.js'
import type { MonitorFeed } from '../live/feed.js'
import type { Effect } from './keys.js'
import { describeError, runGroupAction, runParticipantAction, runSagaAction } from './run-action.js'
import type { MonitorAction } from './state.js'

export interface EffectDeps {
  data: MonitorData
  actions: OperatorActions
  operator: string
  feed: { current: MonitorFeed | null }
  dispatch: Dispatch<MonitorAction>
  quit: () => void
}

const GERUND: Record<DialogState['kind'], string> = {
  retry: 'retrying',
  compensate: 'starting compensation of',
  skip: 'skipping a step of',
  abort: 'aborting',
  resolve: 'resolving the intervention of',
  fork: 'forking',
  migrate: 'moving',
  'group-retry': 'retrying',
  'group-compensate': 'compensating',
  pause: 'pausing',
  resume: 'resuming',
}

/** Performs what keys ask for beyond a state change: loads, operator actions, quitting. */
export function useEffects(deps: EffectDeps): (effect: Effect) => void {
  const ref = useRef(deps)
  ref.current = deps
  return useCallback((effect: Effect) => {
    const { data, actions, operator, feed, dispatch, quit } = ref.current
    switch (effect.type) {
      case 'quit':
        quit()
        return
      case 'load-plan':
        actions.compensationPlan(effect.sagaId).then(
          (plan) => dispatch({ type: 'dialog', sagaId: effect.sagaId, action: { type: 'plan', plan: { state: 'loaded', value: plan } } }),
          (err: unknown) => dispatch({ type: 'dialog', sagaId: effect.sagaId, action: { type: 'plan', plan: { state: 'error', message: describeError(err) } } }),
        )
        return
      case 'load-repair-plan': {
        const { sagaId, kind, inputs } = effect
        const answer = (plan: Loadable<RepairPlan>) => dispatch({ type: 'dialog', sagaId, action: { type: 'repair', plan, for: inputs } })
        answer({ state: 'loading' })
        const ask = async (): Promise<RepairPlan> => {
          const version = versionOf(inputs.version)
          if (kind === 'migrate') return { kind, plan: await actions.migratePlan(sagaId, version ?? 'latest') }
          return { kind, plan: await actions.forkPlan(sagaId, { ...(inputs.step ? { fromStep: inputs.step } : {}), ...(version === undefined ? {} : { version }) }) }
        }
        ask().then(
          (value) => answer({ state: 'loaded', value }),
          (err: unknown) => answer({ state: 'error', message: describeError(err) }),
        )
        return
      }
      case 'load-intervention':
        data.detail(effect.sagaId).then(
          (d) => {
            const iv = d?.intervention
            const value = iv ? { id: iv.id, reason: iv.reason, step: iv.step } : null
            dispatch({ type: 'dialog', sagaId: effect.sagaId, action: { type: 'intervention', intervention: { state: 'loaded', value } } })
          },
          (err: unknown) =>
            dispatch({ type: 'dialog', sagaId: effect.sagaId, action: { type: 'intervention', intervention: { state: 'error', message: describeError(err) } } }),
        )
        return
      case 'submit': {
        const d = effect.dialog
        dispatch({ type: 'dialog-close' })
        dispatch({ type: 'status', status: null })
        const verb = GERUND[d.kind]
        const run = async () => {
          if (d.group) {
            dispatch({ type: 'busy', label: `${verb} ${d.group.sagas.length} sagas…` })
            // A thousand sagas must not mean a thousand renders: progress at most every 100 ms.
            let shown = 0
            const { status } = await runGroupAction(actions, operator, d, (done, total) => {
              if (Date.now() - shown < 100 && done < total) return
              shown = Date.now()
              dispatch({ type: 'busy', label: `${verb} ${done}/${total}…` })
            }, (saga) => data.acted?.(saga))
            return status
          }
          if (d.participant) {
            dispatch({ type: 'busy', label: `${verb} ${d.participant}…` })
            return runParticipantAction(actions, operator, d)
          }
          dispatch({ type: 'busy', label: `${verb} saga ${shortId(d.target?.sagaId ?? '')}…` })
          return runSagaAction(actions, operator, d, (saga) => data.acted?.(saga))
        }
        run()
          .then(
            (status) => dispatch({ type: 'status', status }),
            (err: unknown) => dispatch({ type: 'status', status: { kind: 'error', text: describeError(err) } }),
          )
          .finally(() => {
            dispatch({ type: 'busy', label: null })
            feed.current?.refresh()
          })
        return
      }
    }
  }, [])
}
