/** The contact sheet's stylesheet, inline in the page (it opens from disk, with no network); the review page shares it. */
export const SHEET_CSS = `
:root {
  --bg: #f5f6f8; --card: #fff; --text: #1d2330; --muted: #5f6b7a; --line: #dfe3e8;
  --built: #1f7a4d; --built-bg: #e3f4ea; --cached: #4a5565; --cached-bg: #eceff3;
  --failed: #c62828; --failed-bg: #fdecec; --skipped: #8a5a00; --skipped-bg: #fff4d6;
  --warn: #a15c00; --warn-bg: #fff6e5; --accent: #2457c5;
  color-scheme: light;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
a { color: var(--accent); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.92em; }
.page-head { padding: 18px 24px 12px; background: var(--card); border-bottom: 1px solid var(--line); }
.page-head h1 { margin: 0 0 10px; font-size: 20px; font-weight: 650; letter-spacing: -0.01em; }
.page-head h1 .muted { font-weight: 400; }
.muted { color: var(--muted); }
.stats { display: flex; flex-wrap: wrap; gap: 8px; margin: 0; }
.stat { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 5px 12px; min-width: 84px; }
.stat dt { font-size: 11px; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); }
.stat dd { margin: 0; font-size: 17px; font-weight: 650; font-variant-numeric: tabular-nums; }
.stat-built dd { color: var(--built); }
.stat-failed { background: var(--failed-bg); border-color: #f2b8b8; }
.stat-failed dd { color: var(--failed); }
.stat-skipped dd { color: var(--skipped); }
.attention { margin: 16px 24px 0; }
.attention p { margin: 0 0 8px; padding: 9px 14px; border-radius: 8px; }
.attention-failed { background: var(--failed-bg); color: var(--failed); border: 1px solid #f2b8b8; }
.attention-preflight { background: var(--warn-bg); color: var(--warn); border: 1px solid #f3d29b; }
.attention a { color: inherit; font-weight: 600; }
main.grid {
  display: grid; gap: 16px; padding: 16px 24px 24px;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 400px), 1fr)); align-items: start;
}
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px 12px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, 0.05); min-width: 0; scroll-margin-top: 12px;
}
.card:target { outline: 3px solid var(--accent); outline-offset: 2px; }
.card-failed { border: 2px solid var(--failed); box-shadow: 0 0 0 3px var(--failed-bg); }
.card-preflight-failed { border: 2px solid var(--failed); }
.card-preflight-warn { border: 2px solid #e0a030; }
.card-head { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; margin-bottom: 8px; }
.asset-id { margin: 0; font-size: 16px; font-weight: 650; overflow-wrap: anywhere; }
.card-cost { margin-left: auto; font-variant-numeric: tabular-nums; color: var(--muted); }
.badge { font-size: 11px; font-weight: 650; text-transform: uppercase; letter-spacing: 0.04em; padding: 2px 8px; border-radius: 999px; }
.badge-built { color: var(--built); background: var(--built-bg); }
.badge-cached { color: var(--cached); background: var(--cached-bg); }
.badge-failed { color: #fff; background: var(--failed); }
.badge-skipped { color: var(--skipped); background: var(--skipped-bg); }
.chip { font-size: 12px; padding: 1px 8px; border-radius: 6px; border: 1px solid var(--line); color: var(--muted); }
.prompt {
  margin: 0 0 10px; color: #333c4b; font-size: 13px; white-space: pre-wrap; overflow-wrap: anywhere;
}
.review-status { margin: 0 0 8px; font-size: 12.5px; font-weight: 650; }
.review-approved { color: var(--built); }
.review-changes-requested { color: var(--failed); }
.review-stale, .review-pending { color: var(--warn); }
.review-comment { font-weight: 400; white-space: pre-wrap; }
.error { background: var(--failed-bg); border-left: 4px solid var(--failed); border-radius: 6px; padding: 8px 12px; margin: 0 0 10px; }
.error p { margin: 0 0 4px; }
.error p:last-child { margin-bottom: 0; }
.error-code { color: var(--failed); font-weight: 700; }
.error-message { font-weight: 600; overflow-wrap: anywhere; }
.error-hint { color: #4b2424; }
.outputs { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin-bottom: 10px; }
.output { margin: 0; min-width: 0; }
.thumb {
  text-decoration: none; display: flex; align-items: center; justify-content: center; height: 170px; border-radius: 6px; overflow: hidden;
  border: 1px solid var(--line);
  background-color: #fafbfc;
  background-image: linear-gradient(45deg, #eef0f3 25%, transparent 25%), linear-gradient(-45deg, #eef0f3 25%, transparent 25%),
    linear-gradient(45deg, transparent 75%, #eef0f3 75%), linear-gradient(-45deg, transparent 75%, #eef0f3 75%);
  background-size: 16px 16px; background-position: 0 0, 0 8px, 8px -8px, -8px 0;
}
a.thumb:hover { border-color: var(--accent); }
.thumb img { display: block; max-width: 100%; max-height: 100%; width: auto; height: auto; object-fit: contain; }
.placeholder {
  display: flex; flex-direction: column; align-items: center; justify-content: center; gap: 2px;
  width: 70%; height: 78%; background: #fff; border: 2px dashed #b9c1cc; border-radius: 6px; color: var(--muted);
  text-decoration: none; text-align: center; padding: 6px;
}
.placeholder-label { font-size: 22px; font-weight: 700; letter-spacing: 0.06em; color: #4a5565; }
.placeholder-detail { font-size: 11px; overflow-wrap: anywhere; }
.thumb-missing .placeholder { border-color: var(--failed); color: var(--failed); }
figcaption p { margin: 4px 0 0; }
.output-title { display: flex; gap: 6px; align-items: baseline; flex-wrap: wrap; }
.output-title .file { font-size: 12px; overflow-wrap: anywhere; }
.file-missing { color: var(--failed); }
.specs { font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.preflight { font-size: 12px; font-weight: 600; }
.preflight::before { content: "● "; }
.preflight-ok { color: var(--built); }
.preflight-warn { color: var(--warn); }
.preflight-failed { color: var(--failed); }
.preflight-none { color: var(--muted); font-weight: 400; }
.preflight-none::before { content: ""; }
.checks { margin: 2px 0 0; padding-left: 18px; font-size: 12px; }
.check-error { color: var(--failed); }
.check-warning { color: var(--warn); }
.steps { list-style: none; display: flex; flex-wrap: wrap; gap: 4px; margin: 0; padding: 8px 0 0; border-top: 1px solid var(--line); }
.step { font-size: 11.5px; padding: 2px 8px; border-radius: 6px; background: var(--cached-bg); color: var(--cached); border-left: 3px solid #aab3bf; }
.step-name { font-weight: 600; }
.step-time { font-variant-numeric: tabular-nums; }
.step-built { background: var(--built-bg); color: var(--built); border-left-color: var(--built); }
.step-failed { background: var(--failed-bg); color: var(--failed); border-left-color: var(--failed); }
.step-skipped { background: var(--skipped-bg); color: var(--skipped); border-left-color: #d9a400; }
.page-foot { padding: 0 24px 24px; font-size: 12px; color: var(--muted); }
.empty { padding: 24px; color: var(--muted); }
@media (max-width: 640px) {
  .page-head, main.grid, .page-foot { padding-left: 12px; padding-right: 12px; }
  .attention { margin-left: 12px; margin-right: 12px; }
}
@media print {
  body { background: #fff; }
  .card { break-inside: avoid; box-shadow: none; }
}
`;
