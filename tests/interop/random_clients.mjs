// Stock y-websocket providers doing random edits with random disconnects, for the
// randomized convergence test. Usage:
//   node random_clients.mjs <ws://host:port/v1/collab/ORG> <flowId> <token> <clients> <rounds> <seed> [2|3]
// After its rounds it prints "edited", then answers each "report" line on stdin with the
// providers' common document and state vector, once they are connected, synced and agree.
import * as Y from 'yjs'
import WebSocket from 'ws'
import { createInterface } from 'node:readline'
import { canonical, flowState, sleep } from './common.mjs'
import { WebsocketProvider as WebsocketProvider2 } from 'y-websocket'
import { WebsocketProvider as WebsocketProvider3 } from 'y-websocket-v3'

const [serverUrl, flowId, token, count, rounds, seed, major = '2'] = process.argv.slice(2)
const WebsocketProvider = major === '3' ? WebsocketProvider3 : WebsocketProvider2
setTimeout(() => { console.error('timeout'); process.exit(1) }, 180000).unref()

// mulberry32: a small seeded PRNG, so a failing run can be replayed.
let s = Number(seed) >>> 0
const random = () => {
  s = (s + 0x6D2B79F5) >>> 0
  let t = s
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = (items) => items[Math.floor(random() * items.length)]
const TYPES = ['default', 'llm', 'shell']

const clients = Array.from({ length: Number(count) }, () => {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(serverUrl, flowId, doc, {
    params: { token }, disableBc: true, WebSocketPolyfill: WebSocket
  })
  return { doc, provider }
})

const edit = (client, me, step) => {
  const nodes = client.doc.getMap('nodes')
  const edges = client.doc.getMap('edges')
  const ids = [...nodes.keys()]
  const op = pick(['add', 'add', 'move', 'edit', 'delete', 'edge', 'edge', 'unedge'])
  if (op === 'add' || ids.length === 0) {
    const id = `js${me}-${step}`
    const node = new Y.Map()
    node.set('id', id)
    node.set('type', pick(TYPES))
    node.set('position', { x: Math.floor(random() * 500), y: 0 })
    const data = new Y.Map()
    data.set('label', id)
    node.set('data', data)
    nodes.set(id, node)
  } else if (op === 'move') {
    const node = nodes.get(pick(ids))
    if (node instanceof Y.Map) node.set('position', { x: Math.floor(random() * 500), y: 1 })
  } else if (op === 'edit') {
    const node = nodes.get(pick(ids))
    if (node instanceof Y.Map && node.get('data') instanceof Y.Map) {
      node.get('data').set('label', `js ${me} at ${step}`)
    }
  } else if (op === 'delete') {
    nodes.delete(pick(ids))
  } else if (op === 'edge') {
    const id = `jse${me}-${step}`
    edges.set(id, { id, source: pick(ids), target: pick([...ids, 'ghost']) })
  } else if (edges.size > 0) {
    edges.delete(pick([...edges.keys()]))
  }
}

const state = (client) => JSON.stringify(flowState(client.doc))
const allSynced = () => clients.every((c) => c.provider.wsconnected && c.provider.synced)

while (!allSynced()) await sleep(20)
for (let step = 0; step < Number(rounds); step++) {
  clients.forEach((client, me) => edit(client, me, step))
  if (random() < 0.4) {
    const client = pick(clients)
    client.provider.disconnect()
    edit(client, clients.indexOf(client), `${step}-offline`) // an edit made offline
    await sleep(Math.floor(random() * 30))
    client.provider.connect()
  }
  await sleep(Math.floor(random() * 20))
}

// Done editing: say so, then answer each "report" line with the providers' common
// document and state vector once they agree (the Python side decides when everyone,
// the server included, has converged); "exit" ends.
process.stdout.write('edited\n')
const stateVector = (client) => {
  const sv = Y.decodeStateVector(Y.encodeStateVector(client.doc))
  return Object.fromEntries([...sv.entries()].map(([id, clock]) => [String(id), clock]))
}
const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  if (line === 'exit') break
  for (;;) {
    const states = clients.map(state)
    if (allSynced() && states.every((x) => x === states[0])) {
      const svs = clients.map((c) => JSON.stringify(canonical(stateVector(c))))
      if (svs.every((x) => x === svs[0])) {
        process.stdout.write(JSON.stringify({ state: JSON.parse(states[0]), sv: JSON.parse(svs[0]) }) + '\n')
        break
      }
    }
    await sleep(20)
  }
}
clients.forEach((c) => c.provider.destroy())
process.exit(0)
