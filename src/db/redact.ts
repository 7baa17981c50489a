/** Hides the password of a connection URL; anything that does not parse is returned unchanged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '****'
    return u.toString()
  } catch {
    return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1****@')
  }
}
