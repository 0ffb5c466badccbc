import type { ResolvedManifest } from '../manifest/types.js';

/** The fewest assets settled at once. */
const MIN_WINDOW = 32;

/** How many assets a build settles at once: a few times what its pools run, so none starves. */
export function windowSize(limits: Pick<ResolvedManifest['limits'], 'generate' | 'process' | 'gpu'>): number {
  return Math.max(MIN_WINDOW, 4 * (limits.generate + limits.process + limits.gpu));
}

/**
 * Settles groups of nodes (an asset's) a window at a time: at most `size` groups started and
 * not settled. Started all at once, a catalogue's nodes each held an async frame, closures and
 * promises while they waited for a pool slot: ~5 KB a node, most of a 10,000-asset first
 * build's memory. A node's input in another group (a style reference) is settled when it is
 * asked for, window or not, so no group waits on one that cannot start.
 *
 * A group may leave the window before it is settled (`leave`): an asset whose generation
 * waits on a provider batch makes room for the next, since a batch is collected from the
 * requests that arrive together; `run` still resolves only when every group has settled.
 */
export class SettleWindow {
  private readonly exits = new Map<string, () => void>();

  /** `group` gives its place up early (it waits on something that is not this build's work). */
  leave(group: string): void {
    this.exits.get(group)?.();
  }

  async run(groups: Array<[string, string[]]>, size: number, settle: (id: string) => Promise<unknown>): Promise<void> {
    let next = 0;
    let inWindow = 0;
    /** Started and not settled: in the window, or left it early. */
    let unsettled = 0;
    let failure: { error: unknown } | undefined;
    await new Promise<void>((resolve) => {
      const finished = (): boolean => unsettled === 0 && next >= groups.length;
      const launch = (): void => {
        while (inWindow < size && next < groups.length) {
          const [group, ids] = groups[next++] as [string, string[]];
          inWindow++;
          unsettled++;
          let left = false;
          const leave = (): void => {
            if (left) return;
            left = true;
            this.exits.delete(group);
            inWindow--;
            launch();
          };
          this.exits.set(group, leave);
          const settled = (): void => {
            unsettled--;
            leave();
            if (finished()) resolve();
          };
          Promise.all(ids.map(settle)).then(settled, (error: unknown) => {
            failure ??= { error };
            settled();
          });
        }
        if (finished()) resolve();
      };
      launch();
    });
    if (failure) throw failure.error;
  }
}
