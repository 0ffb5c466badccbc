/**
 * The review page's HTML, rendered on the server with the contact sheet's own pieces
 * (src/report/html-render.ts: the `html` tag that escapes every value, the summary, badges,
 * preflight verdicts and CSS), so the live page and out/report.html say the same things the
 * same way. The page's script (client.ts) only fetches this HTML again, zooms and posts
 * decisions; it never turns data into markup.
 */
import { diffWords } from 'diff';
import type { ReportAsset, ReportOutput } from '../report/types.js';
import { badge, html, profileLabel, renderError, renderPreflight, renderSteps, renderSummary, SafeHtml, SHEET_CSS, spaceLabel } from '../report/html-render.js';
import type { PipelineReport } from '../report/types.js';
import { REVIEW_LABEL, type ReviewEntry, type ReviewStatus } from '../report/review-file.js';
import type { ProofInfo } from './tiles.js';
import { REVIEW_CSS } from './page-css.js';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ReviewOutput {
  output: ReportOutput;
  /** Where the page links the deliverable. */
  href: string;
  proof?: ProofInfo;
  /** Why there is no proof (a PDF, a missing file, a decode error). */
  proofNote?: string;
  /** In deliverable pixels: the trim box (the deliverable less its bleed) and the safe area. */
  trim: Rect;
  safe: Rect;
  bleedMm: number;
  /** Effective resolution of the image detail at the print size (preflight's figure). */
  ppi?: number;
}

export interface ReviewAsset {
  asset: ReportAsset;
  outputs: ReviewOutput[];
  /** The prompt of the build before this one, when it differed. */
  previousPrompt?: string;
  review: { status: ReviewStatus; entry?: ReviewEntry };
  /** Candidates of an asset with `variants: N` (numbers from 1), and the one in use. */
  candidates?: { count: number; pick: number };
}

export interface ReviewModel {
  title: string;
  report?: PipelineReport;
  assets: ReviewAsset[];
  /** Build cycles finished (changes each time the page should refresh). */
  cycle: number;
  /** A manifest error or failed build, said at the top. */
  problem?: string;
  building: boolean;
}

const json = (value: unknown): string => JSON.stringify(value);

function renderPromptDiff(previous: string, now: string): SafeHtml {
  const parts = diffWords(previous, now).map((part) =>
    part.added ? html`<ins>${part.value}</ins>` : part.removed ? html`<del>${part.value}</del>` : html`<span>${part.value}</span>`,
  );
  return html`<details class="prompt-diff" open><summary>Changed since the previous build</summary><p>${parts}</p></details>`;
}

function renderViewer(assetId: string, o: ReviewOutput): SafeHtml {
  const out = o.output;
  if (!o.proof) return html`<div class="viewer viewer-empty"><p>${o.proofNote ?? 'No proof'}</p></div>`;
  const p = o.proof;
  const data = { base: `/proofs/${p.id}/`, width: p.width, height: p.height, maxLevel: p.maxLevel, tileSize: p.tileSize, trim: o.trim, safe: o.safe, source: p.source, ink: !!p.ink, gamut: !!p.gamut };
  const isPrint = out.space === 'cmyk';
  const facts = [
    isPrint ? `Soft proof through "${profileLabel(p.profile ?? out.icc ?? 'its profile')}", absolute colorimetric (paper white simulated)` : `Screen file${p.profile ? `, ${profileLabel(p.profile)}` : ''}`,
    `${out.width} × ${out.height} px`,
    o.ppi !== undefined ? `effective ${o.ppi} ppi` : null,
    out.dpi ? `${((o.trim.width / out.dpi) * 25.4).toFixed(0)} × ${((o.trim.height / out.dpi) * 25.4).toFixed(0)} mm trim${o.bleedMm > 0 ? ` + ${o.bleedMm} mm bleed` : ''}` : null,
  ].filter((s): s is string => s !== null);
  return html`<div class="viewer" data-key="${assetId}/${out.target}" data-proof="${json(data)}">
      <div class="viewer-tools" role="toolbar" aria-label="Proof of ${out.target}">
        <button type="button" data-zoom="fit" aria-pressed="true">Fit</button>
        <button type="button" data-zoom="1">100%</button>
        <button type="button" data-zoom="2">200%</button>
        <span class="sep"></span>
        <button type="button" data-layer="proof" aria-pressed="true">Proof</button>
        ${p.source ? html`<button type="button" data-layer="source" aria-pressed="false">Source</button>` : null}
        <label><input type="checkbox" data-overlay="lines" checked> Trim/bleed/safe</label>
        ${p.ink ? html`<label><input type="checkbox" data-overlay="ink"> Over ink (${p.ink.pixels} px &gt; ${p.ink.limit}%)</label>` : null}
        ${p.gamut ? html`<label><input type="checkbox" data-overlay="gamut"> Gamut (${p.gamut.pixels} px)</label>` : null}
      </div>
      <div class="viewport" tabindex="0"><div class="canvas"></div></div>
      <p class="specs viewer-facts">${facts.join(' · ')}</p>
    </div>`;
}

function renderOutput(assetId: string, o: ReviewOutput): SafeHtml {
  const out = o.output;
  return html`<figure class="review-output">
      <figcaption><strong class="target">${out.target}</strong> <a class="file" href="${o.href}">${out.path}</a>
        <span class="specs">${out.format.toUpperCase()} · ${spaceLabel(out.space)}${out.dpi ? ` · ${out.dpi} dpi` : ''}</span></figcaption>
      ${renderViewer(assetId, o)}
      ${renderPreflight(out)}
    </figure>`;
}

function renderCandidates(a: ReviewAsset): SafeHtml | null {
  if (!a.candidates || a.candidates.count < 2) return null;
  const id = a.asset.id;
  const items = Array.from({ length: a.candidates.count }, (_, i) => i + 1).map((k) => {
    const current = k === a.candidates?.pick;
    return html`<figure class="candidate${current ? ' candidate-current' : ''}">
        <img src="/candidates/${encodeURIComponent(id)}/${k}.jpg" alt="candidate ${k} of ${id}" loading="lazy">
        <figcaption>${current ? html`<strong>In use: ${k}</strong>` : html`<button type="button" class="pick" data-asset="${id}" data-pick="${k}">Use candidate ${k}</button>`}</figcaption>
      </figure>`;
  });
  return html`<section class="candidates" aria-label="Variants"><h3>Variants</h3><div class="candidate-row">${items}</div></section>`;
}

function renderReview(a: ReviewAsset): SafeHtml {
  const { status, entry } = a.review;
  return html`<section class="review review-${status}">
      <p class="review-status review-${status}" data-status="${status}">${REVIEW_LABEL[status]}${entry?.comment ? html`: <span class="review-comment">${entry.comment}</span>` : null}${entry?.at ? html` <span class="muted">(${entry.at})</span>` : null}</p>
      <form class="review-form" data-asset="${a.asset.id}">
        <textarea name="comment" rows="2" placeholder="Comment for the team (optional)" aria-label="Comment on ${a.asset.id}"></textarea>
        <button type="submit" name="decision" value="approved" class="approve">Approve</button>
        <button type="submit" name="decision" value="changes-requested" class="request-changes">Request changes</button>
      </form>
    </section>`;
}

function renderAsset(a: ReviewAsset): SafeHtml {
  const r = a.asset;
  return html`<article class="card review-card card-${r.status}" data-asset="${r.id}">
      <header class="card-head"><h2 class="asset-id">${r.id}</h2>${badge(r.status)}${r.style ? html`<span class="chip" title="style">${r.style}</span>` : null}</header>
      ${renderError(r)}
      ${r.prompt !== undefined ? html`<p class="prompt">${r.prompt}</p>` : null}
      ${a.previousPrompt !== undefined && r.prompt !== undefined ? renderPromptDiff(a.previousPrompt, r.prompt) : null}
      ${renderCandidates(a)}
      <div class="review-outputs">${a.outputs.map((o) => renderOutput(r.id, o))}</div>
      ${renderReview(a)}
      ${renderSteps(r.steps)}
    </article>`;
}

/** The part of the page that changes with each build (what the page fetches after an update). */
export function renderReviewMain(model: ReviewModel): string {
  return html`<div class="review-main" data-cycle="${model.cycle}">
      <header class="page-head"><h1>${model.title}</h1>
        ${model.building ? html`<p class="building">Building…</p>` : null}
        ${model.report ? renderSummary({ report: model.report }) : null}</header>
      ${model.problem ? html`<p class="problem" role="alert">${model.problem}</p>` : null}
      <main class="review-list">${model.assets.length > 0 ? model.assets.map(renderAsset) : html`<p class="empty">No assets built yet.</p>`}</main>
    </div>`.value;
}

/** The whole page; its one script is allowed by a nonce (and nothing else may run). */
export function renderReviewPage(model: ReviewModel, options: { nonce: string; token: string }): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="gpt4k-token" content="${options.token}">
<title>${model.title}</title>
<link rel="icon" href="data:,">
<style nonce="${options.nonce}">${new SafeHtml(SHEET_CSS)}${new SafeHtml(REVIEW_CSS)}</style>
</head>
<body>
<div id="root">${new SafeHtml(renderReviewMain(model))}</div>
<script nonce="${options.nonce}" src="/review.js"></script>
</body>
</html>
`.value;
}
