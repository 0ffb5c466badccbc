import { rm, stat } from 'node:fs/promises';
import type { BuildState } from '../cache/state.js';
import type { Store } from '../cache/store.js';
import type { BuildGraph, GraphNode } from '../graph/graph.js';
import { deliverableIntact, deliverablePath, projectPath } from '../graph/plan.js';
import type { ResolvedManifest } from '../manifest/types.js';
import type { ReportOutput } from '../report/types.js';
import { copyFileAtomic } from '../util/atomic.js';
import type { NodeOutcome } from './outcomes.js';

/**
 * The files in out/: copies of store objects, each recorded in state.json with its stat, so a
 * deleted or edited one is restored from the store without rework.
 */
export class Deliverables {
  /** Whether this build changed what state.json holds (a no-op build does not). */
  changed = false;

  constructor(
    private readonly manifest: ResolvedManifest,
    private readonly store: Store,
    private readonly state: BuildState,
  ) {}

  private fileOf(node: GraphNode): string {
    return deliverablePath(this.manifest, node.asset, node.target as string);
  }

  async write(node: GraphNode, hash: string): Promise<void> {
    const file = this.fileOf(node);
    await copyFileAtomic(this.store.objectPath(hash), file);
    const info = await stat(file);
    this.state.outputs[projectPath(this.manifest, file)] = { hash, size: info.size, mtimeMs: info.mtimeMs };
    this.changed = true;
  }

  /** Restores a deleted or edited deliverable from the store; true when it had to. */
  async ensure(node: GraphNode, hash: string): Promise<boolean> {
    if (deliverableIntact(this.manifest, this.fileOf(node), hash, this.state)) return false;
    await this.write(node, hash);
    return true;
  }

  info(node: GraphNode, meta: Record<string, unknown>): ReportOutput {
    return {
      target: node.target as string,
      path: projectPath(this.manifest, this.fileOf(node)),
      width: meta.width as number,
      height: meta.height as number,
      format: meta.format as string,
      space: meta.space as string,
      ...(meta.dpi !== undefined ? { dpi: meta.dpi as number } : {}),
      ...(meta.icc !== undefined ? { icc: meta.icc as string } : {}),
      ...(meta.preflight !== undefined ? { preflight: meta.preflight as ReportOutput['preflight'] } : {}),
    };
  }

  /**
   * A render that failed (a new file refused by preflight, say) must not leave the file of an
   * earlier manifest in out/ looking current: it is removed, when it is the one gpt4k wrote
   * there, and the report says so. (A render that was only skipped keeps it.)
   */
  async removeOutdated(graph: BuildGraph, order: string[], outcomes: Map<string, NodeOutcome>, warn: (node: GraphNode, message: string) => void): Promise<void> {
    for (const id of order) {
      const node = graph.nodes.get(id) as GraphNode;
      const outcome = outcomes.get(id);
      if (node.kind !== 'render' || outcome?.status !== 'failed' || !outcome.key || this.state.nodes[id]?.key === outcome.key) continue;
      const file = this.fileOf(node);
      const rel = projectPath(this.manifest, file);
      const known = this.state.outputs[rel];
      if (!known || !deliverableIntact(this.manifest, file, known.hash, this.state)) continue;
      try {
        await rm(file, { force: true });
        delete this.state.outputs[rel];
        this.changed = true;
        warn(node, `removed ${rel}: it was made for the manifest as it was before, and this build's render of it failed`);
      } catch (err) {
        warn(node, `could not remove the outdated ${rel}: ${(err as Error).message}`);
      }
    }
  }
}
