// Three stock y-websocket providers (plus one viewer) edit one flow through the Minibase
// collab endpoint and must converge. Usage:
//   node collab_clients.mjs <ws://host:port/v1/collab/ORG> <flowId> <tok1,tok2,tok3> <viewerTok> [2|3]
// Prints the converged document as JSON on stdout; exits 1 on timeout or divergence.
import * as Y from 'yjs'
import WebSocket from 'ws'
import * as decoding from 'lib0/decoding'
import { failAfter, flowState, sleep } from './common.mjs'
import { WebsocketProvider as WebsocketProvider2 } from 'y-websocket'
import { WebsocketProvider as WebsocketProvider3 } from 'y-websocket-v3'

const [serverUrl, flowId, tokenList, viewerToken, major = '2'] = process.argv.slice(2)
const WebsocketProvider = major === '3' ? WebsocketProvider3 : WebsocketProvider2
const TIMEOUT_MS = 20000
const setDiagnose = failAfter(TIMEOUT_MS)

const connect = (token, name) => {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(serverUrl, flowId, doc, {
    params: { token },
    disableBc: true,
    WebSocketPolyfill: WebSocket
  })
  const client = { name, doc, provider, denied: [], notes: [] }
  provider.messageHandlers[2] = (encoder, decoder) => {
    decoding.readVarUint(decoder) // 0: permission denied
    client.denied.push(decoding.readVarString(decoder))
  }
  provider.messageHandlers[100] = (encoder, decoder) => {
    client.notes.push(JSON.parse(decoding.readVarString(decoder)))
  }
  provider.awareness.setLocalState({ user: { name } })
  return client
}

const synced = (client) => new Promise((resolve) => {
  if (client.provider.synced) resolve()
  else client.provider.once('sync', (isSynced) => isSynced && resolve())
})

const newNode = (id, x, y, label) => {
  const node = new Y.Map()
  node.set('id', id)
  node.set('type', 'default')
  node.set('position', { x, y })
  const data = new Y.Map()
  data.set('label', label)
  node.set('data', data)
  return node
}

const state = (client) => flowState(client.doc)

const tokens = tokenList.split(',')
const editors = tokens.map((token, i) => connect(token, `editor${i}`))
const viewer = connect(viewerToken, 'viewer')
const everyone = [...editors, viewer]
setDiagnose(() => ({
  synced: everyone.map((c) => c.provider.synced),
  states: everyone.map(state),
  denied: viewer.denied,
  notes: editors.map((c) => c.notes),
  awareness: everyone.map((c) => c.provider.awareness.getStates().size)
}))
await Promise.all(everyone.map(synced))

// Concurrent edits, all in the same tick.
editors.forEach((client, i) => {
  const nodes = client.doc.getMap('nodes')
  client.doc.transact(() => {
    for (let k = 0; k < 5; k++) nodes.set(`c${i}-${k}`, newNode(`c${i}-${k}`, i * 100, k * 50, `n${i}.${k}`))
  })
})
const [e0, e1, e2] = editors
e0.doc.getMap('nodes').get('a').set('position', { x: 11, y: 22 })
e1.doc.getMap('nodes').get('a').get('data').set('label', 'edited by 1')
e2.doc.transact(() => {
  e2.doc.getMap('edges').delete('e1')
  e2.doc.getMap('nodes').delete('b')
})
e0.doc.getMap('edges').set('c0', { id: 'c0', source: 'c0-0', target: 'c0-1' })
e1.doc.getMap('edges').set('bad', { id: 'bad', source: 'a', target: 'ghost' })
e2.doc.getMap('meta').set('name', 'Edited together')
viewer.doc.getMap('nodes').set('v', newNode('v', 0, 0, 'viewer'))

// Wait for convergence: every editor equal, the bad edge compensated, the viewer told.
for (;;) {
  const states = editors.map((c) => JSON.stringify(state(c)))
  const s = state(e0)
  const done =
    states.every((x) => x === states[0]) &&
    s.nodes.length === 16 &&
    !s.edges.some((e) => e.id === 'bad') &&
    s.edges.some((e) => e.id === 'c0') &&
    e1.notes.length > 0 &&
    viewer.denied.length > 0 &&
    editors.every((c) => c.provider.awareness.getStates().size === 4)
  if (done) break
  await sleep(20)
}
const result = {
  flow: state(e0),
  viewer: state(viewer),
  viewerDenied: viewer.denied,
  notes: e1.notes,
  awareness: editors.map((c) => c.provider.awareness.getStates().size)
}
everyone.forEach((c) => c.provider.destroy())
console.log(JSON.stringify(result))
process.exit(0)
