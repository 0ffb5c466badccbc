import { REVIEW_LABEL, reviewStatus, type ReviewFile, type ReviewStatus } from '../report/review-file.js';
import type { Plan } from './plan.js';

/** An asset's review status against the deliverables a build would give it now. */
export interface AssetApproval {
  asset: string;
  status: ReviewStatus;
  comment?: string;
}

/**
 * Each planned asset's review status (assets.review.json) against the render keys the plan
 * would deliver. A render whose key the plan cannot know yet (something upstream must run
 * first) is a deliverable nobody has seen: the asset's approval, if any, is stale.
 */
export function approvalsOf(plan: Plan, review: ReviewFile): AssetApproval[] {
  const renders = new Map<string, Record<string, string>>();
  for (const node of plan.nodes) {
    if (node.kind !== 'render' || node.target === undefined) continue;
    let keys = renders.get(node.asset);
    if (!keys) renders.set(node.asset, (keys = {}));
    keys[node.target] = node.key ?? '';
  }
  return [...renders].map(([asset, keys]) => {
    const entry = review.assets[asset];
    const status = reviewStatus(entry, keys);
    return { asset, status, ...(entry?.comment && (status === 'approved' || status === 'changes-requested') ? { comment: entry.comment } : {}) };
  });
}

/** One line for plan: "review: 2 approved, 1 changes requested (sku-001), 1 not reviewed (tote)". */
export function formatApprovals(approvals: AssetApproval[]): string {
  const order: ReviewStatus[] = ['approved', 'changes-requested', 'stale', 'pending'];
  const parts = order
    .map((status) => ({ status, assets: approvals.filter((a) => a.status === status).map((a) => a.asset) }))
    .filter((group) => group.assets.length > 0)
    .map(({ status, assets }) => `${assets.length} ${REVIEW_LABEL[status].toLowerCase()}${status === 'approved' ? '' : ` (${assets.join(', ')})`}`);
  return `review: ${parts.join(', ')}`;
}
