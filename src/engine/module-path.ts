import { isAbsolute, posix, win32 } from 'node:path'

/**
 * Why a `module:` path written in a definition is refused, or null: whoever can apply a
 * definition must not be able to run any file on a worker host, so the path is relative
 * and stays inside --defs (checked offline by validation, before any worker sees it).
 */
export function modulePathProblem(modulePath: string): string | null {
  if (isAbsolute(modulePath) || win32.isAbsolute(modulePath) || /^[a-z][a-z0-9+.-]*:/i.test(modulePath)) {
    return "must be a path relative to the worker's --defs directory, not an absolute path or URL"
  }
  const normal = posix.normalize(modulePath.replaceAll('\\', '/'))
  if (normal === '..' || normal.startsWith('../')) return "must stay inside the worker's --defs directory (no .. out of it)"
  return null
}
