import type { Call, HttpCall } from './definition.js'

// Apart from the parser (and with it yaml and zod), which only definition files need.
export const isHttpCall = (call: Call): call is HttpCall => 'http' in call
