/**
 * The print job builds only what an art director approved: `gpt4k build --require-approved`
 * refuses (exit 3) while an asset's deliverables are not the ones approved in
 * assets.review.json, and `gpt4k plan` says where each asset stands.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rendersOf } from '../src/report/review-file.js';
import { makeProject, type Project } from './support/cli-project.js';
import { ensureBuilt } from './support/cli-run.js';

const MANIFEST = (mugPrompt: string) => `version: 1
defaults:
  generate: { provider: procedural, size: 128x128 }
  upscale: { engine: none }
targets:
  card: { paper: custom, width_mm: 20, height_mm: 20, dpi: 150, format: tiff, preflight: off }
assets:
  bag:
    prompt: "a teal coffee bag, front view"
  mug:
    prompt: "${mugPrompt}"
`;

describe('build --require-approved', () => {
  let project: Project;
  beforeAll(async () => {
    await ensureBuilt(['src/cli/commands/build.ts', 'src/cli/commands/plan.ts', 'src/graph/approvals.ts', 'src/report/review-file.ts']);
    project = await makeProject({ 'assets.pipeline.yaml': MANIFEST('a red enamel mug, front view') }, 'gpt4k-approved-');
    const first = await project.run(['build']);
    expect(first.code, first.stderr).toBe(0);
  });
  afterAll(async () => project?.remove());

  /** Approves (or not) what the last build delivered, as gpt4k review records it. */
  async function decide(decisions: Record<string, 'approved' | 'changes-requested'>): Promise<void> {
    const report = await project.report();
    const assets = Object.fromEntries(
      report.assets
        .filter((a) => decisions[a.id])
        .map((a) => [a.id, { decision: decisions[a.id], comment: a.id === 'mug' ? 'warmer red' : '', at: '2026-12-06T10:00:00.000Z', renders: rendersOf(a) }]),
    );
    await project.write('assets.review.json', `${JSON.stringify({ version: 1, assets }, null, 2)}\n`);
  }

  it('refuses while an asset is not approved, naming it and why; plan says where each stands', async () => {
    await decide({ bag: 'approved', mug: 'changes-requested' });
    const plan = await project.run(['plan']);
    expect(plan.stdout).toContain('review: 1 approved, 1 changes requested (mug)');
    const planJson = JSON.parse((await project.run(['plan', '--json'])).stdout) as { review: unknown };
    expect(planJson.review).toEqual([{ asset: 'bag', status: 'approved' }, { asset: 'mug', status: 'changes-requested', comment: 'warmer red' }]);

    const refused = await project.run(['build', '--require-approved']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('E_NOT_APPROVED');
    expect(refused.stderr).toContain('mug (changes requested: "warmer red")');
    expect(refused.stderr).not.toContain('bag (');
  });

  it('builds once every asset is approved, and refuses again when an approved asset changes', async () => {
    await decide({ bag: 'approved', mug: 'approved' });
    const ok = await project.run(['build', '--require-approved']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await project.run(['plan'])).stdout).toContain('review: 2 approved');

    const before = await project.bytes('out/mug/card.tif');
    await project.write('assets.pipeline.yaml', MANIFEST('a blue enamel mug, front view'));
    const refused = await project.run(['build', '--require-approved']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('mug (changed since review)');
    // Refused before anything ran: the approved deliverable is still the one on disk.
    expect((await project.bytes('out/mug/card.tif')).equals(before)).toBe(true);
  });
});
