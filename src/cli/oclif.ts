// What bin/run.js needs from oclif, as the entry of the bundle (scripts/bundle.js): the
// commands' oclif and this one are then the same module.
export { handle, run } from '@oclif/core'
