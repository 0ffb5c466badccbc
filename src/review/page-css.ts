/** The review page's own styles, on top of the contact sheet's (SHEET_CSS). */
export const REVIEW_CSS = `
.review-list { display: grid; gap: 18px; padding: 16px 24px 24px; }
.review-card .prompt { font-size: 14px; }
.prompt-diff { margin: 0 0 10px; font-size: 13px; }
.prompt-diff p { margin: 4px 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.prompt-diff ins { background: var(--built-bg); color: var(--built); text-decoration: none; }
.prompt-diff del { background: var(--failed-bg); color: var(--failed); }
.building { margin: 0 0 8px; color: var(--accent); font-weight: 600; }
.problem { margin: 12px 24px 0; padding: 9px 14px; border-radius: 8px; background: var(--failed-bg); color: var(--failed); border: 1px solid #f2b8b8; white-space: pre-wrap; }
.review-outputs { display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); margin-bottom: 10px; }
.review-output { margin: 0; min-width: 0; }
.review-output figcaption { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; margin-bottom: 6px; }
.viewer-tools { display: flex; gap: 6px; flex-wrap: wrap; align-items: center; margin-bottom: 6px; font-size: 12px; }
.viewer-tools button { font: inherit; padding: 2px 9px; border: 1px solid var(--line); border-radius: 6px; background: #fff; cursor: pointer; }
.viewer-tools button[aria-pressed="true"] { background: var(--accent); border-color: var(--accent); color: #fff; }
.viewer-tools .sep { width: 8px; }
.viewport { position: relative; height: 440px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; background: #6b7280; }
.canvas { position: relative; margin: 0 auto; }
.canvas img.tile { position: absolute; display: block; image-rendering: pixelated; }
.canvas .layer { position: absolute; inset: 0; }
.canvas .layer[hidden], .canvas .mask[hidden], .canvas svg[hidden] { display: none; }
.canvas img.mask { position: absolute; inset: 0; width: 100%; height: 100%; image-rendering: pixelated; opacity: 0.75; }
.canvas svg.lines { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
.viewer-empty { display: flex; align-items: center; justify-content: center; height: 160px; border: 2px dashed #b9c1cc; border-radius: 6px; color: var(--muted); }
.candidates h3 { margin: 0 0 6px; font-size: 13px; }
.candidate-row { display: flex; gap: 10px; overflow-x: auto; margin-bottom: 10px; }
.candidate { margin: 0; flex: 0 0 auto; text-align: center; }
.candidate img { display: block; height: 160px; width: auto; border: 2px solid var(--line); border-radius: 6px; }
.candidate-current img { border-color: var(--accent); }
.candidate figcaption { font-size: 12px; margin-top: 4px; }
.review { border-top: 1px solid var(--line); padding-top: 8px; margin-bottom: 8px; }
.review-form { display: flex; gap: 6px; flex-wrap: wrap; align-items: flex-start; }
.review-form textarea { flex: 1 1 240px; font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; }
.review-form button { font: inherit; padding: 4px 12px; border-radius: 6px; border: 1px solid var(--line); cursor: pointer; }
.review-form .approve { background: var(--built); border-color: var(--built); color: #fff; }
.review-form .request-changes { background: #fff; color: var(--failed); border-color: var(--failed); }
`;
