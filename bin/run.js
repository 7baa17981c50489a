#!/usr/bin/env node
import { handle, run } from '@oclif/core'

// Not oclif's execute(): after the command it gives stdout ten seconds to drain and then
// fails the process with "timed out", cutting long output to a slow reader (a pager, a
// script that reads later). Node writes everything buffered before it exits on its own.
await run(process.argv.slice(2), import.meta.url).catch(handle)
