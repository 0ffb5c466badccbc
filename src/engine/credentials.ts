import type { Plan } from '../graph/plan.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { getProvider } from '../providers/registry.js';
import type { Diagnostic, GptError } from '../util/errors.js';

/** A credential a planned generation would lack (an API key not in the environment). */
export interface CredentialProblem {
  provider: string;
  error: GptError;
  /** The assets whose generation would fail for it. */
  assets: string[];
}

/**
 * What the generations a plan would run lack before any request is sent, one entry per
 * provider and missing credential: `plan` says so up front, where a build would only find
 * out at its first request.
 */
export async function credentialProblems(manifest: ResolvedManifest, plan: Plan): Promise<CredentialProblem[]> {
  const byMessage = new Map<string, CredentialProblem>();
  const assets = new Map(manifest.assets.map((a) => [a.id, a]));
  for (const node of plan.nodes) {
    if (node.kind !== 'generate' || node.action !== 'run') continue;
    const params = assets.get(node.asset)?.generate;
    if (!params) continue;
    const error = (await getProvider(params.provider)).credentialProblem?.(params);
    if (!error) continue;
    const key = `${params.provider}\n${error.message}`;
    const known = byMessage.get(key);
    if (known) known.assets.push(node.asset);
    else byMessage.set(key, { provider: params.provider, error, assets: [node.asset] });
  }
  return [...byMessage.values()];
}

/** A problem as `plan` reports it: a warning (text and --json) naming the provider and its assets. */
export function credentialWarning(problem: CredentialProblem): Diagnostic & { provider: string; assets: string[] } {
  const images = `${problem.assets.length} image${problem.assets.length === 1 ? '' : 's'}`;
  return {
    code: 'W_NO_CREDENTIALS',
    severity: 'warning',
    message: `${images} to generate with ${problem.provider} would fail: ${problem.error.message}`,
    ...(problem.error.hint ? { hint: problem.error.hint } : {}),
    provider: problem.provider,
    assets: problem.assets,
  };
}
