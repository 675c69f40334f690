// Ten stock y-websocket providers drag one node in turns, go offline while the server
// unloads the room (and rebases the flow's Yjs state), then come back with their old
// documents and must converge with the rebased one. Usage:
//   node rebase_clients.mjs <ws://host:port/v1/collab/ORG> <flowId> <token> <drags>
// Protocol on stdio: prints {"phase":"offline",...} once every provider is disconnected,
// then waits for one line on stdin ("go", sent once the room was rebased), reconnects,
// and prints the result as JSON; exits 1 on timeout or divergence.
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import readline from 'node:readline'
import { failAfter, flowState, sleep } from './common.mjs'

const [serverUrl, flowId, token, dragsArg] = process.argv.slice(2)
const drags = Number(dragsArg)
const TIMEOUT_MS = 40000
const setDiagnose = failAfter(TIMEOUT_MS)

const synced = (provider) => new Promise((resolve) => {
  if (provider.synced) resolve()
  else provider.once('sync', (isSynced) => isSynced && resolve())
})
const until = async (condition) => {
  while (!condition()) await sleep(10)
}

const clients = Array.from({ length: 10 }, () => {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(serverUrl, flowId, doc, {
    params: { token },
    disableBc: true,
    WebSocketPolyfill: WebSocket
  })
  return { doc, provider }
})
const same = () => {
  const states = clients.map((c) => JSON.stringify(flowState(c.doc)))
  return states.every((s) => s === states[0])
}
const positionOf = (doc, id) => doc.getMap('nodes').get(id)?.get('position')
setDiagnose(() => ({ synced: clients.map((c) => c.provider.synced), a: clients.map((c) => positionOf(c.doc, 'a')) }))
await Promise.all(clients.map((c) => synced(c.provider)))

// Interleaved drags: each client moves node a once it has seen the drag before its own
// (so each drag overwrites another client's: the history Yjs cannot collect).
const seen = (doc, condition) => new Promise((resolve) => {
  if (condition()) return resolve()
  const check = () => {
    if (condition()) {
      doc.off('update', check)
      resolve()
    }
  }
  doc.on('update', check)
})
for (let i = 0; i < drags; i++) {
  const { doc } = clients[i % clients.length]
  // Drag i moves a to x = i + 1 (a starts at x = 0).
  if (i > 0) await seen(doc, () => positionOf(doc, 'a')?.x === i)
  doc.getMap('nodes').get('a').set('position', { x: i + 1, y: i % 7 })
}
await until(() => clients.every((c) => positionOf(c.doc, 'a')?.x === drags) && same())
const before = flowState(clients[0].doc)

// Offline: every provider disconnects, keeping its document; one adds a node meanwhile,
// another moves node b (an entry that exists before the rebase).
clients.forEach((c) => c.provider.disconnect())
const added = new Y.Map()
added.set('id', 'offline')
added.set('type', 'default')
added.set('position', { x: 5, y: 5 })
added.set('data', new Y.Map([['label', 'added offline']]))
clients[1].doc.getMap('nodes').set('offline', added)
clients[2].doc.getMap('nodes').get('b').set('position', { x: -1, y: -1 })
console.log(JSON.stringify({ phase: 'offline', before }))

const input = readline.createInterface({ input: process.stdin })
await new Promise((resolve) => input.once('line', resolve))
input.close()

// Back online with the old documents.
clients.forEach((c) => c.provider.connect())
await Promise.all(clients.map((c) => synced(c.provider)))
await until(same)
// A stale client edits again after the reconnect: the others (and the server) see it.
clients[3].doc.getMap('nodes').get('a').set('position', { x: 1234, y: 5 })
await until(() => clients.every((c) => positionOf(c.doc, 'a')?.x === 1234) && same())
const result = { before, after: flowState(clients[0].doc) }
clients.forEach((c) => c.provider.destroy())
console.log(JSON.stringify(result))
process.exit(0)
