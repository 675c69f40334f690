/**
 * The smallest editor on Minibase: React Flow and `createFlowStore`, nothing else.
 * Copy it. Open `/examples/editor?org=ORG_ID&flow=FLOW_ID` while signed in to the dashboard
 * (it reads the dashboard's token from localStorage; pass your own in a real app).
 */

import { StrictMode, useEffect, useMemo } from "react";
import { createRoot } from "react-dom/client";
import { Background, Controls, ReactFlow, type Edge, type Node } from "@xyflow/react";
import { useStore } from "zustand";
import "@xyflow/react/dist/style.css";
import { createClient, createFlowStore } from "../client/minibase";

const params = new URLSearchParams(location.search);
const orgId = params.get("org") ?? "";
const flowId = params.get("flow") ?? "";
const client = createClient({ url: location.origin, token: localStorage.getItem("minibase.token") });

function Editor() {
  const store = useMemo(() => createFlowStore(client, { orgId }), []);
  useEffect(() => store.getState().subscribeToUpdates(flowId), [store]);
  const { nodes, edges, onNodesChange, onEdgesChange, onConnect } = useStore(store);
  return (
    <div style={{ width: "100vw", height: "100vh" }}>
      <ReactFlow
        nodes={nodes as Node[]}
        edges={edges as Edge[]}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        fitView
      >
        <Background />
        <Controls />
      </ReactFlow>
    </div>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    {orgId && flowId ? <Editor /> : <p>Open this page with ?org=ORG_ID&amp;flow=FLOW_ID.</p>}
  </StrictMode>,
);
