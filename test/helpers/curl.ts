import { spawn } from 'node:child_process'

export interface CurlResult {
  status: number
  headers: Record<string, string>
  body: string
  json: () => any
}

/** curl as any client would call the API; `-i` output split into status, headers and body. */
export function curl(args: string[], opts: { token?: string; timeoutMs?: number } = {}): Promise<CurlResult> {
  const auth = opts.token ? ['-H', `Authorization: Bearer ${opts.token}`] : []
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-s', '-S', '-i', '--max-time', String((opts.timeoutMs ?? 60_000) / 1000), ...auth, ...args])
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl exited ${code}: ${err}`))
      const split = out.indexOf('\r\n\r\n')
      const head = out.slice(0, split).split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of head.slice(1)) {
        const i = line.indexOf(':')
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
      }
      const body = out.slice(split + 4)
      resolve({ status: Number(head[0]!.split(' ')[1]), headers, body, json: () => JSON.parse(body) })
    })
  })
}

/** A JSON POST. */
export const postJson = (url: string, body: unknown, token?: string) =>
  curl(['-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body), url], { token })
