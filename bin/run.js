#!/usr/bin/env node
import { arch, platform, release } from 'node:os'
import { existsSync, readFileSync } from 'node:fs'

/**
 * `--version` without loading oclif (which is most of a bare command's start-up): the line
 * oclif prints, `<name>/<version> <platform>-<arch> node-<version>`. Where oclif would say
 * "wsl" for the platform, or might, oclif answers instead.
 */
function versionLine() {
  if (platform() === 'linux') {
    const mentionsMicrosoft = (text) => text.toLowerCase().includes('microsoft')
    let procVersion
    try {
      procVersion = readFileSync('/proc/version', 'utf8')
    } catch {
      return undefined
    }
    if (mentionsMicrosoft(release()) || mentionsMicrosoft(procVersion)) return undefined
    if (existsSync('/proc/sys/fs/binfmt_misc/WSLInterop') || existsSync('/run/WSL')) return undefined
  }
  const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  if (pjson.oclif?.additionalVersionFlags) return undefined
  return `${pjson.name}/${pjson.version} ${platform()}-${arch() === 'ia32' ? 'x86' : arch()} node-${process.version}`
}

const argv = process.argv.slice(2)
const version = argv[0] === '--version' ? versionLine() : undefined
if (version) {
  process.stdout.write(`${version}\n`)
} else {
  // oclif checks the Node version against its own `engines` with all of semver (a fifth of
  // the modules a command loads); npm already holds sagactl to its own `engines`.
  const userSetting = process.env.OCLIF_DISABLE_ENGINE_WARNING
  process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
  const { handle, run } = await import('../dist/bundle/oclif.js')
  if (userSetting === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING
  else process.env.OCLIF_DISABLE_ENGINE_WARNING = userSetting

  // Not oclif's execute(): after the command it gives stdout ten seconds to drain and then
  // fails the process with "timed out", cutting long output to a slow reader (a pager, a
  // script that reads later). Node writes everything buffered before it exits on its own.
  await run(argv, import.meta.url).catch(handle)
}
