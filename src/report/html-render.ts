/**
 * The contact sheet's HTML, made from a PipelineReport plus what contact-sheet.ts found on disk
 * (thumbnails, links). Pure: no I/O, so what the page says is decided here and nowhere else.
 *
 * Every interpolation goes through the `html` tag, which escapes anything that is not already
 * `SafeHtml`: prompts and error messages come from users and providers and may hold `<`, `&`
 * and quotes.
 */
import { SHEET_CSS } from './sheet-css.js';
import type { PipelineReport, PreflightCheck, PreflightResult, ReportAsset, ReportOutput, ReportStep, StepStatus } from './types.js';

export { SHEET_CSS };

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

type Interpolation = SafeHtml | string | number | null | undefined | false | readonly Interpolation[];

function interpolate(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map((v: Interpolation) => interpolate(v)).join('');
  return escapeHtml(String(value));
}

/** Tagged template: literal parts are trusted, interpolated values are escaped. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += interpolate(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

/** What the card shows in place of the deliverable. */
export type Preview =
  | { kind: 'image'; /** relative to report.html */ src: string; width: number; height: number }
  | { kind: 'placeholder'; label: string; detail?: string };

export interface SheetOutput {
  output: ReportOutput;
  /** Relative URL from report.html to the deliverable; null when the file is missing. */
  href: string | null;
  /** The deliverable's path as shown to the user (relative to out/). */
  label: string;
  preview: Preview;
}

export interface SheetAsset {
  asset: ReportAsset;
  outputs: SheetOutput[];
  /** The art director's decision (assets.review.json), when there is a review file. */
  review?: { status: string; label: string; comment: string };
}

/**
 * The page around the assets' cards. The cards are rendered one at a time (renderSheetAsset) and
 * written as they are made: a sheet of 10,000 assets is never one string in memory.
 */
export interface SheetModel {
  title: string;
  report: PipelineReport;
  /** Relative URL of pipeline_report.json when it exists beside the sheet. */
  jsonReportHref?: string;
}

export function formatCost(usd: number): string {
  if (usd > 0 && usd < 0.01) return `$${usd.toFixed(3)}`;
  return `$${usd.toFixed(2)}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  return `${m} min ${String(rest).padStart(2, '0')} s`;
}

/**
 * A preflight's verdict as a person reads it: a failed check of a `preflight: warn` target is a
 * warning (the file was delivered), not a failure.
 */
export function preflightVerdict(pf: PreflightResult | undefined): 'ok' | 'warn' | 'failed' | 'none' {
  if (!pf) return 'none';
  const problems = pf.checks.filter((c) => !c.ok);
  if (problems.some((c) => c.severity === 'error')) return 'failed';
  return problems.length > 0 || !pf.ok ? 'warn' : 'ok';
}

const worstVerdict = (asset: ReportAsset): 'ok' | 'warn' | 'failed' => {
  const verdicts = asset.outputs.map((o) => preflightVerdict(o.preflight));
  return verdicts.includes('failed') ? 'failed' : verdicts.includes('warn') ? 'warn' : 'ok';
};

/** Failed assets first (they need attention), then preflight failures, then warnings, then manifest order. */
function attentionRank(asset: ReportAsset): number {
  if (asset.status === 'failed') return 0;
  const verdict = worstVerdict(asset);
  return verdict === 'failed' ? 1 : verdict === 'warn' ? 2 : 3;
}

function anchorId(assetId: string): string {
  return `asset-${assetId}`;
}

function anchorHref(assetId: string): string {
  return `#${encodeURIComponent(anchorId(assetId))}`;
}

const STATUS_LABEL: Record<StepStatus, string> = {
  built: 'built',
  cached: 'cached',
  failed: 'failed',
  skipped: 'skipped',
  pending: 'pending',
};

export function badge(status: StepStatus): SafeHtml {
  return html`<span class="badge badge-${status}">${STATUS_LABEL[status]}</span>`;
}

export function renderSummary(model: Pick<SheetModel, 'report'>): SafeHtml {
  const s = model.report.summary;
  const stat = (label: string, value: string | number, cls = ''): SafeHtml =>
    html`<div class="stat ${cls}"><dt>${label}</dt><dd>${value}</dd></div>`;
  const calls = s.retries > 0 ? `${s.providerCalls} (${s.retries} retried)` : String(s.providerCalls);
  return html`<dl class="stats">
      ${stat('Assets', s.assets)}
      ${stat('Built', s.built, 'stat-built')}
      ${stat('Cached', s.cached, 'stat-cached')}
      ${stat('Failed', s.failed, s.failed > 0 ? 'stat-failed' : '')}
      ${s.skipped > 0 ? stat('Skipped', s.skipped, 'stat-skipped') : null}
      ${stat('Provider calls', calls)}
      ${stat('Cost', formatCost(s.costUsd))}
      ${stat('Duration', formatDuration(s.durationMs))}
    </dl>`;
}

function renderAttention(model: SheetModel): SafeHtml | null {
  const assets = model.report.assets;
  const failed = assets.filter((a) => a.status === 'failed');
  const preflight = assets.filter((a) => attentionRank(a) === 1);
  const warned = assets.filter((a) => attentionRank(a) === 2);
  if (failed.length === 0 && preflight.length === 0 && warned.length === 0) return null;
  const links = (list: ReportAsset[]): SafeHtml[] =>
    list.map((a, i) => html`${i > 0 ? ', ' : ''}<a href="${anchorHref(a.id)}">${a.id}</a>`);
  return html`<nav class="attention" aria-label="Assets that need attention">
      ${failed.length > 0 ? html`<p class="attention-failed"><strong>${failed.length} ${failed.length === 1 ? 'asset' : 'assets'} failed:</strong> ${links(failed)}</p>` : null}
      ${preflight.length > 0 ? html`<p class="attention-failed"><strong>Preflight failed:</strong> ${links(preflight)}</p>` : null}
      ${warned.length > 0 ? html`<p class="attention-preflight"><strong>Preflight warnings (delivered):</strong> ${links(warned)}</p>` : null}
    </nav>`;
}

export function renderError(asset: ReportAsset): SafeHtml | null {
  const e = asset.error;
  if (!e) return null;
  return html`<section class="error" role="alert">
      <p class="error-head"><code class="error-code">${e.code}</code> at step <code>${e.step}</code></p>
      <p class="error-message">${e.message}</p>
      ${e.hint ? html`<p class="error-hint"><strong>Hint:</strong> ${e.hint}</p>` : null}
    </section>`;
}

function renderPreview(out: SheetOutput): SafeHtml {
  const p = out.preview;
  const inner =
    p.kind === 'image'
      ? html`<img src="${p.src}" width="${p.width}" height="${p.height}" alt="${out.output.target} preview" loading="lazy" decoding="async">`
      : html`<span class="placeholder"><span class="placeholder-label">${p.label}</span>${p.detail ? html`<span class="placeholder-detail">${p.detail}</span>` : null}</span>`;
  return out.href
    ? html`<a class="thumb" href="${out.href}" title="Open ${out.label}">${inner}</a>`
    : html`<span class="thumb thumb-missing" title="${out.label} is missing">${inner}</span>`;
}

function checkLine(c: PreflightCheck): SafeHtml {
  const values =
    c.value !== undefined && c.limit !== undefined ? ` (${String(c.value)}; limit ${String(c.limit)})` : '';
  return html`<li class="check check-${c.severity}"><strong>${c.name}</strong>: ${c.message}${values}</li>`;
}

export function renderPreflight(o: ReportOutput): SafeHtml {
  const pf = o.preflight;
  if (!pf) return html`<p class="preflight preflight-none">No preflight</p>`;
  const problems = pf.checks.filter((c) => !c.ok);
  const warnings = problems.filter((c) => c.severity === 'warning').length;
  const errors = problems.length - warnings;
  const state = preflightVerdict(pf);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const verdict =
    state === 'failed'
      ? `Preflight failed: ${plural(errors, 'check')}`
      : state === 'warn'
        ? `Preflight warning: ${plural(warnings, 'check')} (delivered)`
        : 'Preflight ok';
  const cls = `preflight-${state}`;
  return html`<p class="preflight ${cls}">${verdict}</p>${problems.length > 0 ? html`<ul class="checks">${problems.map(checkLine)}</ul>` : null}`;
}

export function spaceLabel(space: string): string {
  const known: Record<string, string> = { srgb: 'sRGB', cmyk: 'CMYK', 'b-w': 'Gray', grey16: 'Gray 16-bit', rgb16: 'RGB 16-bit' };
  return known[space.toLowerCase()] ?? space.toUpperCase();
}

function physicalSize(o: ReportOutput): string | null {
  if (!o.dpi || o.dpi <= 0) return null;
  const mm = (px: number): string => ((px / o.dpi!) * 25.4).toFixed(0);
  return `${mm(o.width)} × ${mm(o.height)} mm`;
}

function renderOutput(out: SheetOutput): SafeHtml {
  const o = out.output;
  const specs = [
    `${o.width} × ${o.height} px`,
    o.format.toUpperCase(),
    spaceLabel(o.space),
    o.dpi ? `${o.dpi} dpi` : null,
    physicalSize(o),
  ].filter((s): s is string => s !== null);
  return html`<figure class="output">
      ${renderPreview(out)}
      <figcaption>
        <p class="output-title"><strong class="target">${o.target}</strong>
          ${out.href ? html`<a class="file" href="${out.href}">${out.label}</a>` : html`<span class="file file-missing">${out.label} (missing)</span>`}</p>
        <p class="specs">${specs.join(' · ')}</p>
        ${o.icc ? html`<p class="specs icc" title="Embedded ICC profile, as it describes itself">ICC: ${profileLabel(o.icc)}</p>` : null}
        ${renderPreflight(o)}
      </figcaption>
    </figure>`;
}

/**
 * A profile by its own description, with a word on the one that misleads: libvips' built-in
 * CMYK profile (gpt4k's `cmyk`) calls itself "Chemical proof", though it is a generic press profile.
 */
export function profileLabel(description: string): string {
  return description === 'Chemical proof' ? 'Chemical proof (the built-in generic CMYK profile, not a press standard)' : description;
}

function stepLabel(step: ReportStep): string {
  return step.target ? `${step.kind} ${step.target}` : step.kind;
}

export function renderSteps(steps: ReportStep[]): SafeHtml | null {
  if (steps.length === 0) return null;
  const items = steps.map((step) => {
    const extras = [
      formatDuration(step.ms),
      step.costUsd !== undefined && step.costUsd > 0 ? formatCost(step.costUsd) : null,
      step.retries ? `${step.retries} ${step.retries === 1 ? 'retry' : 'retries'}` : null,
    ].filter((s): s is string => s !== null);
    const why = step.reasons && step.reasons.length > 0 ? `${step.status}: ${step.reasons.join('; ')}` : step.status;
    return html`<li class="step step-${step.status}" title="${why}"><span class="step-name">${stepLabel(step)}</span> <span class="step-time">${extras.join(' · ')}</span></li>`;
  });
  return html`<ol class="steps" aria-label="Steps">${items}</ol>`;
}

/** One asset's card. */
export function renderSheetAsset(entry: SheetAsset): string {
  return renderAsset(entry).value;
}

function renderAsset(entry: SheetAsset): SafeHtml {
  const a = entry.asset;
  const verdict = worstVerdict(a);
  const classes = ['card', `card-${a.status}`, verdict === 'failed' ? 'card-preflight-failed' : verdict === 'warn' ? 'card-preflight-warn' : ''].join(' ').trim();
  return html`<article class="${classes}" id="${anchorId(a.id)}">
      <header class="card-head">
        <h2 class="asset-id">${a.id}</h2>
        ${badge(a.status)}
        ${a.style ? html`<span class="chip" title="style">${a.style}</span>` : null}
        <span class="card-cost" title="cost of this asset">${formatCost(a.costUsd)}</span>
      </header>
      ${renderError(a)}
      ${entry.review ? html`<p class="review-status review-${entry.review.status}">${entry.review.label}${entry.review.comment ? html`: <span class="review-comment">${entry.review.comment}</span>` : null}</p>` : null}
      ${a.prompt ? html`<p class="prompt">${a.prompt}</p>` : null}
      ${entry.outputs.length > 0 ? html`<div class="outputs">${entry.outputs.map(renderOutput)}</div>` : a.status === 'failed' ? null : html`<p class="muted">No outputs.</p>`}
      ${renderSteps(a.steps)}
    </article>`;
}


/** The report's assets in the sheet's order: those that need attention first, then manifest order. */
export function sheetOrder(assets: readonly ReportAsset[]): ReportAsset[] {
  return assets
    .map((a, i) => ({ a, i, rank: attentionRank(a) }))
    .sort((x, y) => x.rank - y.rank || x.i - y.i)
    .map(({ a }) => a);
}

/** The page up to its first card; self-contained: inline CSS, no scripts, no network. */
export function renderSheetHead(model: SheetModel): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'">
<meta name="generator" content="gpt4k">
<title>${model.title}</title>
<link rel="icon" href="data:,">
<style>${new SafeHtml(SHEET_CSS)}</style>
</head>
<body>
<header class="page-head">
  <h1>${model.title}</h1>
  ${renderSummary(model)}
</header>
${renderAttention(model)}
<main class="grid">
${model.report.assets.length === 0 ? html`<p class="empty">No assets in this build.</p>` : null}`.value;
}

/** The page after its last card. */
export function renderSheetFoot(model: SheetModel): string {
  return html`
</main>
<footer class="page-foot">Made by gpt4k from the build report${model.jsonReportHref ? html` (<a href="${model.jsonReportHref}">pipeline_report.json</a>)` : null}. Thumbnails are previews; click one to open the deliverable.</footer>
</body>
</html>
`.value;
}

/** The whole page at once, for a few cards (the contact sheet writes its parts as they are made). */
export function renderContactSheet(model: SheetModel & { assets: SheetAsset[] }): string {
  const byAsset = new Map(model.assets.map((card) => [card.asset, card]));
  const cards = sheetOrder(model.assets.map((card) => card.asset)).map((asset) => renderSheetAsset(byAsset.get(asset) as SheetAsset));
  return renderSheetHead(model) + cards.join('') + renderSheetFoot(model);
}
