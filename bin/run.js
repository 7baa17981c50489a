#!/usr/bin/env node
// oclif checks the Node version against its own `engines` with all of semver (a fifth of
// the modules a command loads); npm already holds sagactl to its own `engines`.
const userSetting = process.env.OCLIF_DISABLE_ENGINE_WARNING
process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
const { handle, run } = await import('@oclif/core')
if (userSetting === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING
else process.env.OCLIF_DISABLE_ENGINE_WARNING = userSetting

// Not oclif's execute(): after the command it gives stdout ten seconds to drain and then
// fails the process with "timed out", cutting long output to a slow reader (a pager, a
// script that reads later). Node writes everything buffered before it exits on its own.
await run(process.argv.slice(2), import.meta.url).catch(handle)
