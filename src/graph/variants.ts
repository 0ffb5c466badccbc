import { hashObject } from '../cache/hash.js';
import { pickedCandidate, type LockFile } from '../cache/lockfile.js';
import type { StoredAction, Store } from '../cache/store.js';
import type { Fingerprint } from './keys.js';

/**
 * Variants: an asset with `variants: N` has N candidate images, each a generate action of its
 * own. Candidate 1 is stored under the generate key itself (so turning variants on keeps the
 * image already paid for); candidate K > 1 under the hash of the generate fingerprint plus K.
 * The lock file's pick says which candidate the downstream steps use.
 */
export interface Candidate {
  index: number;
  key: string;
  /** Present when the candidate's record and its image are both in the store. */
  record?: StoredAction;
}

export interface CandidateSet {
  /** Candidates 1..max(wanted, pick, last one stored), in order. */
  candidates: Candidate[];
  /** The candidate the downstream steps use. */
  pick: number;
  /** Candidates a build must generate (one provider call each). */
  missing: number[];
}

export async function candidateKey(fingerprint: Fingerprint, key: string, index: number): Promise<string> {
  return index === 1 ? key : hashObject({ ...fingerprint, variant: index });
}

async function storedCandidate(store: Store, fingerprint: Fingerprint, key: string, index: number): Promise<Candidate> {
  const candidate: Candidate = { index, key: await candidateKey(fingerprint, key, index) };
  const record = await store.getAction(candidate.key);
  if (record && (await store.hasObject(record.output.hash))) candidate.record = record;
  return candidate;
}

/**
 * The candidates of one generate node. `forced` (--regenerate) adds one candidate beyond those
 * stored and picks it, when the asset has several; with a single candidate it replaces it.
 */
export async function resolveCandidates(
  store: Store,
  fingerprint: Fingerprint,
  key: string,
  options: { asset: string; wanted: number; lock: LockFile | undefined; forced: boolean },
): Promise<CandidateSet> {
  let pick = pickedCandidate(options.lock, options.asset, key);
  const several = options.wanted > 1 || pick > 1;
  const candidates: Candidate[] = [];
  for (let index = 1; ; index++) {
    const extra = index > options.wanted && index > pick;
    if (extra && !several) break;
    const candidate = await storedCandidate(store, fingerprint, key, index);
    // Past the wanted ones, only candidates made on purpose (--regenerate) count.
    if (extra && !candidate.record) break;
    candidates.push(candidate);
  }
  let missing = candidates.filter((c) => !c.record).map((c) => c.index);
  if (options.forced) {
    if (!several) {
      missing = [1];
      pick = 1;
    } else if (missing.length === 0) {
      const index = candidates.length + 1;
      candidates.push({ index, key: await candidateKey(fingerprint, key, index) });
      missing = [index];
      pick = index;
    }
  }
  return { candidates, pick, missing };
}
