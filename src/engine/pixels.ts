import type { BuildGraph, GraphNode } from '../graph/graph.js';
import { fail } from '../util/result.js';
import type { PixelResult } from './execution/types.js';
import { Pool } from './pool.js';

/** A node recomputed on demand, until its consumers are done with it. */
export interface OnDemandState {
  /** It hands its input on unchanged: its pixels are its input's. */
  passThrough: boolean;
  /** Whether an input was built in this build (part of why it would run). */
  upstreamBuilt: boolean;
  /** It let go of its inputs as soon as it had its own pixels. */
  inputsReleased: boolean;
}

/**
 * Which full-size images a build holds in memory, and for how long. Each node's pixels are
 * made once (decoded from the store or computed on demand) and shared by its consumers; they
 * go when the last consumer is done. Admission bounds how many assets hold full-size pixels at
 * once, so memory stays flat as the batch grows: an asset is admitted when its first render
 * needs pixels and leaves when its last render is done.
 */
export class PixelCache {
  private readonly memo = new Map<string, Promise<PixelResult>>();
  /** Stored upscales whose pixels are kept for their consumers (bounded: see keep). */
  private readonly kept = new Set<string>();
  private readonly pendingConsumers = new Map<string, number>();
  private readonly admission: Pool;
  private readonly admitted = new Map<string, Promise<void>>();

  constructor(
    private readonly graph: BuildGraph,
    order: string[],
    inSelection: (id: string) => boolean,
    /** At most this many assets hold full-size pixels, and this many stored upscales are kept. */
    private readonly limit: number,
    private readonly onDemand: Map<string, OnDemandState>,
    /** Makes a node's pixels (decode or compute); called once per node while they are held. */
    private readonly make: (node: GraphNode) => Promise<PixelResult>,
    private readonly signal: AbortSignal,
  ) {
    this.admission = new Pool('admission', limit);
    for (const id of order) this.pendingConsumers.set(id, (graph.dependents.get(id) ?? []).filter(inSelection).length);
  }

  get(id: string): Promise<PixelResult> {
    const memo = this.memo.get(id);
    if (memo) return memo;
    const promise = this.make(this.graph.nodes.get(id) as GraphNode);
    this.memo.set(id, promise);
    // A failed result must not be handed out again as if it were pixels.
    void promise.then((result) => {
      if (!result.ok && this.memo.get(id) === promise) this.memo.delete(id);
    });
    return promise;
  }

  /**
   * Its consumers take a stored node's fresh pixels from memory only while few such images are
   * held: on a fast GPU, upscales finish far ahead of the renders, and each holds a full-size
   * image. Past the budget (one per process slot) they decode the stored PNG (lossless) when
   * they run, so memory stays flat however long the batch.
   */
  keep(id: string, image: import('../util/image.js').RawImage): void {
    if ((this.pendingConsumers.get(id) ?? 0) > 0 && this.kept.size < this.limit) {
      this.memo.set(id, Promise.resolve({ ok: true, value: image }));
      this.kept.add(id);
    }
  }

  admit(asset: string): Promise<void> {
    let entry = this.admitted.get(asset);
    if (!entry) {
      entry = this.admission.acquire(this.signal);
      this.admitted.set(asset, entry);
    }
    return entry;
  }

  private dismiss(asset: string): void {
    const entry = this.admitted.get(asset);
    if (!entry) return;
    this.admitted.delete(asset);
    entry.then(() => this.admission.release(), () => undefined);
  }

  /** Whether a node has no consumer left in this build. */
  unused(id: string): boolean {
    return (this.pendingConsumers.get(id) ?? 0) === 0;
  }

  /** A consumer is done with its inputs: drop their pixels once nobody else needs them. */
  releaseInputs(node: GraphNode): void {
    for (const input of node.inputs) {
      const left = (this.pendingConsumers.get(input) ?? 1) - 1;
      this.pendingConsumers.set(input, left);
      if (left > 0) continue;
      this.memo.delete(input);
      this.kept.delete(input);
      const inputNode = this.graph.nodes.get(input);
      if (inputNode?.kind === 'normalize') this.dismiss(inputNode.asset);
      // A node computed on demand is finished when its last consumer is.
      const state = this.onDemand.get(input);
      if (inputNode && state && !state.inputsReleased) this.releaseInputs(inputNode);
    }
  }
}

/** The pixels of a failed node: none. */
export const noPixels = (failedNode: string): PixelResult => fail({ failedNode });
