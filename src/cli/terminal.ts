/**
 * Call before the console (Ink, React) is first imported; both read the environment once,
 * at import time.
 * - React's development build re-renders far slower: the console is never a development build.
 * - Ink draws only a final frame when CI is set. In a real terminal the console must be live
 *   wherever it runs, a CI job driving it in tmux included.
 */
export function prepareConsoleEnvironment(): void {
  process.env.NODE_ENV ??= 'production'
  if (process.stdout.isTTY) {
    delete process.env.CI
    delete process.env.CONTINUOUS_INTEGRATION
  }
}
