import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MaxFlowGraph } from './max-flow.js';

interface Edge {
  a: number;
  b: number;
  forward: number;
  backward: number;
}

/**
 * The same problem solved the plain way for comparison: Edmonds–Karp (shortest augmenting paths by
 * breadth-first search) on a dense capacity matrix with explicit source and sink nodes.
 */
function edmondsKarp(n: number, terminals: [number, number][], edges: Edge[]): { flow: number; sourceSide: boolean[] } {
  const s = n;
  const t = n + 1;
  const size = n + 2;
  const cap = Array.from({ length: size }, () => new Float64Array(size));
  terminals.forEach(([from, to], i) => {
    cap[s]![i]! += from;
    cap[i]![t]! += to;
  });
  for (const e of edges) {
    cap[e.a]![e.b]! += e.forward;
    cap[e.b]![e.a]! += e.backward;
  }
  let flow = 0;
  for (;;) {
    const prev = new Int32Array(size).fill(-1);
    prev[s] = s;
    const queue = [s];
    while (queue.length > 0 && prev[t] === -1) {
      const u = queue.shift()!;
      for (let v = 0; v < size; v++) {
        if (prev[v] === -1 && cap[u]![v]! > 1e-12) {
          prev[v] = u;
          queue.push(v);
        }
      }
    }
    if (prev[t] === -1) break;
    let bottleneck = Infinity;
    for (let v = t; v !== s; v = prev[v]!) bottleneck = Math.min(bottleneck, cap[prev[v]!]![v]!);
    for (let v = t; v !== s; v = prev[v]!) {
      cap[prev[v]!]![v]! -= bottleneck;
      cap[v]![prev[v]!]! += bottleneck;
    }
    flow += bottleneck;
  }
  // The source side of the minimum cut: what the source still reaches in the residual graph.
  const seen = new Array<boolean>(size).fill(false);
  const stack = [s];
  seen[s] = true;
  while (stack.length > 0) {
    const u = stack.pop()!;
    for (let v = 0; v < size; v++) {
      if (!seen[v] && cap[u]![v]! > 1e-12) {
        seen[v] = true;
        stack.push(v);
      }
    }
  }
  return { flow, sourceSide: seen.slice(0, n) };
}

function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

function cutCost(terminals: [number, number][], edges: Edge[], side: (i: number) => boolean): number {
  let cost = 0;
  terminals.forEach(([from, to], i) => (cost += side(i) ? to : from));
  for (const e of edges) {
    if (side(e.a) && !side(e.b)) cost += e.forward;
    if (side(e.b) && !side(e.a)) cost += e.backward;
  }
  return cost;
}

test('a textbook graph: flow 23, and the cut separates what it must', () => {
  // CLRS's flow network (s→1:16, s→2:13, 1→3:12, 2→1:4, 2→4:14, 3→2:9, 3→t:20, 4→3:7, 4→t:4), nodes 0..3 = 1..4.
  const g = new MaxFlowGraph(4, 5);
  g.addTerminal(0, 16, 0);
  g.addTerminal(1, 13, 0);
  g.addTerminal(2, 0, 20);
  g.addTerminal(3, 0, 4);
  g.addEdge(0, 2, 12, 0);
  g.addEdge(1, 0, 4, 0);
  g.addEdge(1, 3, 14, 0);
  g.addEdge(2, 1, 9, 0);
  g.addEdge(3, 2, 7, 0);
  assert.equal(g.maxFlow(), 23);
  assert.deepEqual([0, 1, 2, 3].map((i) => g.isSourceSide(i)), [true, true, false, true]);
});

test('random grids with both terminal links on most nodes: same flow as Edmonds–Karp, and the cut costs exactly the flow', () => {
  const next = seeded(7);
  for (let trial = 0; trial < 25; trial++) {
    const w = 3 + Math.floor(next() * 6);
    const h = 3 + Math.floor(next() * 6);
    const n = w * h;
    const terminals: [number, number][] = Array.from({ length: n }, () => [next() < 0.8 ? Math.round(next() * 20) : 0, next() < 0.8 ? Math.round(next() * 20) : 0]);
    const edges: Edge[] = [];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (x + 1 < w) edges.push({ a: y * w + x, b: y * w + x + 1, forward: Math.round(next() * 10), backward: Math.round(next() * 10) });
        if (y + 1 < h) edges.push({ a: y * w + x, b: (y + 1) * w + x, forward: Math.round(next() * 10), backward: Math.round(next() * 10) });
        if (x + 1 < w && y + 1 < h) edges.push({ a: y * w + x, b: (y + 1) * w + x + 1, forward: next() * 7, backward: next() * 7 });
      }
    }
    const g = new MaxFlowGraph(n, edges.length);
    terminals.forEach(([from, to], i) => g.addTerminal(i, from, to));
    edges.forEach((e) => g.addEdge(e.a, e.b, e.forward, e.backward));
    const flow = g.maxFlow();
    const reference = edmondsKarp(n, terminals, edges);
    assert.ok(Math.abs(flow - reference.flow) < 1e-6, `trial ${trial}: ${flow} vs ${reference.flow}`);
    // Max-flow = min-cut: the labelling it returns must cost exactly the flow.
    const cost = cutCost(terminals, edges, (i) => g.isSourceSide(i));
    assert.ok(Math.abs(cost - flow) < 1e-6, `trial ${trial}: cut costs ${cost}, flow ${flow}`);
  }
});

test('too many edges for the space asked for is an error, not a silent overwrite', () => {
  const g = new MaxFlowGraph(2, 1);
  g.addEdge(0, 1, 1, 1);
  assert.throws(() => g.addEdge(1, 0, 1, 1), /more than 1 edges/);
});
