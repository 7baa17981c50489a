/** Query parameters of a connection URL that carry a secret (libpq and node-postgres read both). */
const SECRET_PARAMS = new Set(['password', 'sslpassword'])

/** Hides every password of a connection URL, in its user info or its query string. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '****'
    for (const key of [...u.searchParams.keys()]) if (SECRET_PARAMS.has(key.toLowerCase())) u.searchParams.set(key, '****')
    return u.toString()
  } catch {
    return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1****@').replace(/([?&](?:ssl)?password=)[^&#]*/gi, '$1****')
  }
}
