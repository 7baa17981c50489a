// The `pg` module, loaded without Node's fetch implementation. To tell Cloudflare Workers
// from Node, pg looks at `navigator.userAgent` and, when there is no `navigator` (Node 20),
// constructs a `Response`: the first touch of that global loads all of undici, which is
// about half of what opening a server connection costs a short command. A plain
// `navigator` during the load answers the question first; Node 21 and later have one.
// A static import (not createRequire) so that the bundle carries pg too.
import { returnNavigator } from './pg-navigator.js'
import pg from 'pg'

returnNavigator()

export default pg
