// Notification service: step 6, send-notification. A sent message cannot be unsent, so
// there is no compensation; it is the last step, so nothing after it can fail anyway.

import { findCustomer, readOrderInput } from './catalog.js'
import { isRecord, ok, refused, type ServiceDefinition } from './harness.js'

export interface Message {
  id: string
  sagaId: string
  customerId: string
  channel: 'email'
  text: string
}

export interface NotificationState {
  messages: Message[]
}

export function notificationService(): ServiceDefinition & { state: NotificationState } {
  const state: NotificationState = { messages: [] }
  let nextId = 1

  return {
    name: 'notification',
    state,
    snapshot: () => structuredClone(state),
    routes: {
      '/notifications': {
        phase: 'action',
        handle: (req) => {
          const input = readOrderInput(req.input)
          if (typeof input === 'string') return refused(422, 'invalid_input', input)
          const created = req.results['create-order']
          const orderId = isRecord(created) && typeof created.orderId === 'string' ? created.orderId : 'your order'
          const name = findCustomer(input.customerId)?.name ?? input.customerId
          const message: Message = {
            id: `msg-${String(nextId++).padStart(6, '0')}`,
            sagaId: req.sagaId,
            customerId: input.customerId,
            channel: 'email',
            text: `Hello ${name}, ${orderId} is confirmed: ${input.amount} charged.`,
          }
          state.messages.push(message)
          return ok({ messageId: message.id, channel: message.channel })
        },
      },
    },
  }
}
