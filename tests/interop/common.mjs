// Shared by the interop scripts: the flow a Yjs document holds, comparable across
// clients, and the failure and time-out of a script.

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Print ``message`` (and ``extra``) as JSON on stderr and exit 1. */
export const fail = (message, extra = {}) => {
  console.error(JSON.stringify({ error: message, ...extra }))
  process.exit(1)
}

/** Fail with 'timeout' after ``ms``; the returned setter names what the failure prints. */
export const failAfter = (ms) => {
  let diagnose = () => ({})
  setTimeout(() => fail('timeout', diagnose()), ms).unref()
  return (fn) => { diagnose = fn }
}

// Key order of plain JSON objects is not preserved through yrs (it decodes them into hash
// maps), so compare with sorted keys.
export const canonical = (value) =>
  Array.isArray(value)
    ? value.map(canonical)
    : value && typeof value === 'object'
      ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical(value[k])]))
      : value

/** The document's flow: name, then nodes and edges sorted by id, every key sorted. */
export const flowState = (doc) => {
  const nodes = doc.getMap('nodes').toJSON()
  const edges = doc.getMap('edges').toJSON()
  return canonical({
    name: doc.getMap('meta').get('name') ?? '',
    nodes: Object.keys(nodes).sort().map((k) => nodes[k]),
    edges: Object.keys(edges).sort().map((k) => edges[k])
  })
}
