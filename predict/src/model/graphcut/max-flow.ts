/**
 * Maximum flow / minimum cut by Boykov and Kolmogorov's algorithm ("An Experimental Comparison of
 * Min-Cut/Max-Flow Algorithms for Energy Minimization in Vision", PAMI 2004): two search trees, one
 * from the source and one from the sink, grow until they touch; the path found is augmented; the
 * nodes it cut off are re-attached (adopted) or freed. Trees are kept between augmentations, which is
 * what makes it fast on image grids, where paths are short and plentiful.
 *
 * Everything lives in typed arrays: arcs come in pairs (arc a and its reverse a ^ 1), each node keeps
 * a singly linked list of its outgoing arcs, and a node's terminal link is one signed residual
 * (positive: capacity from the source; negative: capacity to the sink).
 */

const NONE = -1;
/** parent[] value of a node hanging directly from its terminal. */
const TERMINAL = -2;
/** parent[] value of a node that lost its parent during augmentation. */
const ORPHAN = -3;
const FREE = 0;
const SOURCE = 1;
const SINK = 2;

export class MaxFlowGraph {
  private readonly first: Int32Array;
  private readonly next: Int32Array;
  private readonly head: Int32Array;
  private readonly residual: Float64Array;
  private readonly terminal: Float64Array;
  private arcCount = 0;
  private flowValue = 0;

  private readonly tree: Uint8Array;
  private readonly parent: Int32Array;
  /** When a node's distance to its terminal was last known correct, and that distance. */
  private readonly stamp: Int32Array;
  private readonly dist: Int32Array;
  private time = 0;

  constructor(
    readonly nodeCount: number,
    maxEdges: number,
  ) {
    this.first = new Int32Array(nodeCount).fill(NONE);
    this.next = new Int32Array(2 * maxEdges);
    this.head = new Int32Array(2 * maxEdges);
    this.residual = new Float64Array(2 * maxEdges);
    this.terminal = new Float64Array(nodeCount);
    this.tree = new Uint8Array(nodeCount);
    this.parent = new Int32Array(nodeCount).fill(NONE);
    this.stamp = new Int32Array(nodeCount);
    this.dist = new Int32Array(nodeCount);
  }

  /** Capacities from the source and to the sink; only their difference matters to the cut, the rest is flow already. */
  addTerminal(node: number, fromSource: number, toSink: number): void {
    this.flowValue += Math.min(fromSource, toSink);
    this.terminal[node]! += fromSource - toSink;
  }

  /** An edge a→b with capacity `forward` and b→a with `backward`. */
  addEdge(a: number, b: number, forward: number, backward: number): void {
    const arc = this.arcCount;
    if (arc + 2 > this.head.length) throw new Error(`more than ${this.head.length / 2} edges`);
    this.arcCount += 2;
    this.head[arc] = b;
    this.residual[arc] = forward;
    this.next[arc] = this.first[a]!;
    this.first[a] = arc;
    this.head[arc + 1] = a;
    this.residual[arc + 1] = backward;
    this.next[arc + 1] = this.first[b]!;
    this.first[b] = arc + 1;
  }

  /** True when the node ended on the source side of the minimum cut. */
  isSourceSide(node: number): boolean {
    return this.tree[node] === SOURCE;
  }

  /** Runs the algorithm once; returns the value of the maximum flow (= the cut's cost). */
  maxFlow(): number {
    const active = new Int32Array(this.nodeCount + 1);
    const queued = new Uint8Array(this.nodeCount);
    // A ring buffer of active nodes: every node is in it at most once, so nodeCount + 1 slots suffice.
    let qHead = 0;
    let qTail = 0;
    const push = (node: number) => {
      if (queued[node]) return;
      queued[node] = 1;
      active[qTail] = node;
      qTail = qTail === this.nodeCount ? 0 : qTail + 1;
    };
    for (let i = 0; i < this.nodeCount; i++) {
      const t = this.terminal[i]!;
      if (t === 0) continue;
      this.tree[i] = t > 0 ? SOURCE : SINK;
      this.parent[i] = TERMINAL;
      this.dist[i] = 1;
      push(i);
    }
    const orphans: number[] = [];
    while (qHead !== qTail) {
      const node = active[qHead]!;
      if (this.tree[node] === FREE) {
        queued[node] = 0;
        qHead = qHead === this.nodeCount ? 0 : qHead + 1;
        continue;
      }
      const meeting = this.grow(node, push);
      if (meeting === NONE) {
        // Nothing left to grow into from here: the node stops being active.
        queued[node] = 0;
        qHead = qHead === this.nodeCount ? 0 : qHead + 1;
        continue;
      }
      this.time++;
      this.augment(meeting, orphans);
      while (orphans.length > 0) this.adopt(orphans.pop()!, orphans, push);
    }
    return this.flowValue;
  }

  /** Grows the tree of `node` by one step; returns an arc from the source tree to the sink tree, or NONE. */
  private grow(node: number, push: (n: number) => void): number {
    const side = this.tree[node]!;
    for (let arc = this.first[node]!; arc !== NONE; arc = this.next[arc]!) {
      // The source tree grows along arcs out of its nodes, the sink tree along arcs into its nodes.
      const capacity = side === SOURCE ? this.residual[arc]! : this.residual[arc ^ 1]!;
      if (capacity <= 0) continue;
      const other = this.head[arc]!;
      const otherSide = this.tree[other]!;
      if (otherSide === FREE) {
        this.tree[other] = side;
        this.parent[other] = arc ^ 1;
        this.stamp[other] = this.stamp[node]!;
        this.dist[other] = this.dist[node]! + 1;
        push(other);
      } else if (otherSide !== side) {
        return side === SOURCE ? arc : arc ^ 1;
      } else if (this.stamp[other]! <= this.stamp[node]! && this.dist[other]! > this.dist[node]!) {
        // Keeps paths short: hang the neighbour from this node when that brings it closer to the terminal.
        this.parent[other] = arc ^ 1;
        this.stamp[other] = this.stamp[node]!;
        this.dist[other] = this.dist[node]! + 1;
      }
    }
    return NONE;
  }

  /** Pushes the bottleneck along source → … → arc → … → sink; nodes whose parent arc saturates become orphans. */
  private augment(middle: number, orphans: number[]): void {
    const sourceEnd = this.head[middle ^ 1]!;
    const sinkEnd = this.head[middle]!;
    let bottleneck = this.residual[middle]!;
    // parent[n] is the arc from n to its parent; in the source tree flow runs parent → n, over its reverse.
    let n = sourceEnd;
    for (let arc = this.parent[n]!; arc !== TERMINAL; n = this.head[arc]!, arc = this.parent[n]!) bottleneck = Math.min(bottleneck, this.residual[arc ^ 1]!);
    bottleneck = Math.min(bottleneck, this.terminal[n]!);
    n = sinkEnd;
    for (let arc = this.parent[n]!; arc !== TERMINAL; n = this.head[arc]!, arc = this.parent[n]!) bottleneck = Math.min(bottleneck, this.residual[arc]!);
    bottleneck = Math.min(bottleneck, -this.terminal[n]!);

    this.residual[middle]! -= bottleneck;
    this.residual[middle ^ 1]! += bottleneck;
    for (n = sourceEnd; ; ) {
      const arc = this.parent[n]!;
      if (arc === TERMINAL) {
        this.terminal[n]! -= bottleneck;
        if (this.terminal[n] === 0) this.orphan(n, orphans);
        break;
      }
      this.residual[arc]! += bottleneck;
      this.residual[arc ^ 1]! -= bottleneck;
      const up = this.head[arc]!;
      if (this.residual[arc ^ 1] === 0) this.orphan(n, orphans);
      n = up;
    }
    for (n = sinkEnd; ; ) {
      const arc = this.parent[n]!;
      if (arc === TERMINAL) {
        this.terminal[n]! += bottleneck;
        if (this.terminal[n] === 0) this.orphan(n, orphans);
        break;
      }
      this.residual[arc ^ 1]! += bottleneck;
      this.residual[arc]! -= bottleneck;
      const up = this.head[arc]!;
      if (this.residual[arc] === 0) this.orphan(n, orphans);
      n = up;
    }
    this.flowValue += bottleneck;
  }

  private orphan(node: number, orphans: number[]): void {
    this.parent[node] = ORPHAN;
    orphans.push(node);
  }

  /** Distance from `node` to its tree's terminal through valid parents, or -1 when the chain ends in an orphan. */
  private originDistance(node: number): number {
    let d = 0;
    let n = node;
    for (;;) {
      if (this.stamp[n] === this.time) {
        d += this.dist[n]!;
        break;
      }
      const arc = this.parent[n]!;
      d++;
      if (arc === TERMINAL) {
        this.stamp[n] = this.time;
        this.dist[n] = 1;
        break;
      }
      if (arc === ORPHAN || arc === NONE) return -1;
      n = this.head[arc]!;
    }
    // Remember the distances along the chain so later searches stop early.
    for (let k = node, dk = d; this.stamp[k] !== this.time; k = this.head[this.parent[k]!]!, dk--) {
      this.stamp[k] = this.time;
      this.dist[k] = dk;
    }
    return d;
  }

  /** Finds the orphan a new parent in its own tree, or frees it and orphans its children. */
  private adopt(node: number, orphans: number[], push: (n: number) => void): void {
    const side = this.tree[node]!;
    let bestArc = NONE;
    let bestDist = Infinity;
    for (let arc = this.first[node]!; arc !== NONE; arc = this.next[arc]!) {
      const capacity = side === SOURCE ? this.residual[arc ^ 1]! : this.residual[arc]!;
      if (capacity <= 0) continue;
      const other = this.head[arc]!;
      if (this.tree[other] !== side) continue;
      const d = this.originDistance(other);
      if (d >= 0 && d < bestDist) {
        bestDist = d;
        bestArc = arc;
      }
    }
    if (bestArc !== NONE) {
      this.parent[node] = bestArc;
      this.stamp[node] = this.time;
      this.dist[node] = bestDist + 1;
      return;
    }
    this.tree[node] = FREE;
    this.parent[node] = NONE;
    for (let arc = this.first[node]!; arc !== NONE; arc = this.next[arc]!) {
      const other = this.head[arc]!;
      if (this.tree[other] !== side) continue;
      const capacity = side === SOURCE ? this.residual[arc ^ 1]! : this.residual[arc]!;
      // A neighbour that could feed this node may grow into it again later.
      if (capacity > 0) push(other);
      const up = this.parent[other]!;
      if (up >= 0 && this.head[up] === node) this.orphan(other, orphans);
    }
  }
}
