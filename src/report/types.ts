/** out/pipeline_report.json, as DESIGN.md specifies it. */

/** `pending`: waiting for a provider batch (`build --no-wait`); a later build collects it. */
export type StepStatus = 'built' | 'cached' | 'failed' | 'skipped' | 'pending';

export interface ReportStep {
  kind: string;
  target?: string;
  status: StepStatus;
  key: string | null;
  ms: number;
  costUsd?: number;
  /** Requests sent to the provider, and how many were retries. */
  requests?: number;
  retries?: number;
  reasons?: string[];
  meta?: Record<string, unknown>;
}

export interface PreflightCheck {
  name: string;
  ok: boolean;
  severity: 'error' | 'warning';
  message: string;
  value?: number | string | boolean;
  limit?: number | string | boolean;
}

export interface PreflightResult {
  ok: boolean;
  checks: PreflightCheck[];
}

export interface ReportOutput {
  target: string;
  path: string; // project-relative, forward slashes
  width: number;
  height: number;
  format: string;
  space: string; // "cmyk" | "srgb"
  dpi?: number;
  icc?: string; // profile description
  preflight?: PreflightResult;
}

export interface ReportError {
  step: string;
  code: string;
  message: string;
  hint?: string;
}

export interface ReportAsset {
  id: string;
  status: StepStatus;
  prompt?: string;
  style?: string;
  costUsd: number;
  steps: ReportStep[];
  outputs: ReportOutput[];
  error: ReportError | null;
}

export interface PipelineReport {
  version: 1;
  summary: {
    assets: number;
    built: number;
    cached: number;
    failed: number;
    skipped: number;
    /** Assets waiting for a provider batch (only when there are any). */
    pending?: number;
    providerCalls: number;
    retries: number;
    costUsd: number;
    durationMs: number;
  };
  assets: ReportAsset[];
}
