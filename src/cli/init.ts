/**
 * `gpt4k init`: a project that builds on the first try (offline, with the procedural provider),
 * gets editor completion from the schema, keeps the cache out of git, and builds incrementally
 * in CI.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const MANIFEST_FILE = 'assets.pipeline.yaml';
export const WORKFLOW_FILE = '.github/workflows/assets.yml';
const GITIGNORE_FILE = '.gitignore';
const GITIGNORE_LINES = ['.gpt4k/', 'out/'];

/**
 * Where editors find the schema in a project that installs gpt4k from npm (the package ships
 * `schemas/`). Relative, so it works offline and follows the installed version.
 */
export const SCHEMA_COMMENT = '# yaml-language-server: $schema=./node_modules/gpt4k/schemas/pipeline.schema.json';

export const MANIFEST_TEMPLATE = `${SCHEMA_COMMENT}
#
# gpt4k turns these assets into deliverables: out/<asset>/<target>.<ext>.
#   npx gpt4k plan     what would be built, and why
#   npx gpt4k build    build it (and out/report.html, a contact sheet of the results)
#
# The procedural provider draws images locally, so this builds offline and costs nothing.
# For real images set \`provider: openai\` below and export OPENAI_API_KEY.
version: 1
output: out

# Print: Sunburst for finals (the build as written), Flare for drafts (the draft mode below).
defaults:
  generate: { provider: procedural, model: gpt-image-2.5-sunburst, size: 1536x1024, quality: high }
  upscale: { engine: lanczos, scale: 4 }

# With provider: openai, one 1536x1024 image (upscaled 4x: A3 at ~340 dpi, and UHD) is
# estimated at $0.165 on Sunburst at high, $0.50 at max (gpt4k's conservative figure for max;
# the actual cost comes from the tokens billed), and $0.041 on Flare at medium: these 3 assets
# are ~$0.50 final, ~$0.12 draft. \`npx gpt4k plan\` shows the estimate of each mode.
#   npx gpt4k build --mode draft    Flare drafts of the screen target, into out/_draft/
modes:
  draft:
    generate: { model: gpt-image-2.5-flare, quality: medium }
    upscale: { scale: 1 }
    targets: [uhd]

# Requests at once, CPU jobs at once, and a budget a build may not exceed.
limits: { generate: 5, process: 2, maxCostUsd: 25 }

styles:
  catalog:
    prefix: "Commercial photography, medium format, diffused softbox lighting, white seamless background —"
    reference: hero          # the batch's seed image: it conditions the others

# Print profiles: a built-in press profile (fogra39: FOGRA39L Coated, Europe sheetfed offset;
# swop-tr005: SWOP TR005 Coated, US web offset) or your print house's .icc file.
profiles:
  press: fogra39             # or e.g. press: ./profiles/printer.icc

targets:
  # Landscape, like the 1536x1024 images: upscaled 4x they hold ~340 dpi over the page
  # (preflight refuses a print file under its dpi).
  a3: { paper: A3, orientation: landscape, dpi: 300, bleed_mm: 3,
        color: { profile: press, intent: perceptual }, format: tiff }
  uhd: { width: 3840, height: 2160, fit: cover, format: png }

assets:
  hero:
    prompt: "Commercial packshot of a premium coffee bag, dark teal kraft paper, soft shadows"
    targets: [a3, uhd]
  mug:
    style: catalog
    prompt: "Matte white ceramic mug with a thin gold rim, steam rising, three-quarter view"
    targets: [a3, uhd]
  tote:
    style: catalog
    prompt: "Natural canvas tote bag with a small embroidered logo, folded handles, flat lay"
    targets: [uhd]
`;

export const WORKFLOW_TEMPLATE = `# Builds the image assets on every push, incrementally: the gpt4k cache (.gpt4k/) is kept
# between runs, and --frozen refuses any paid generation that is not already cached, so CI
# never spends money. Generate new images locally, then commit assets.lock.json.
#
# With a shared remote cache (docs/ci.md): set the repository variable GPT4K_REMOTE_CACHE to
# its URL and the secret GPT4K_REMOTE_CACHE_TOKEN to its token. Then what anyone built against
# it (a laptop, an earlier run) is not redone, three shard jobs split the processing between
# them, and the build job assembles every deliverable from the remote with no provider call.
# Pull requests read the remote and never write to it (forks get no secrets anyway).
name: assets

on:
  push:
    branches: [main]
  pull_request:
  workflow_dispatch:

permissions:
  contents: read

concurrency:
  group: assets-\${{ github.ref }}
  cancel-in-progress: true

env:
  GPT4K_REMOTE_CACHE: \${{ vars.GPT4K_REMOTE_CACHE }}
  GPT4K_REMOTE_CACHE_TOKEN: \${{ secrets.GPT4K_REMOTE_CACHE_TOKEN }}
  GPT4K_REMOTE_CACHE_WRITE: \${{ github.event_name == 'pull_request' && '0' || '1' }}

jobs:
  # The assembly: every deliverable, from the remote (or the Actions cache) alone.
  build:
    needs: shards
    # Runs when the shards ran and passed, and when they were skipped (no remote cache set).
    if: \${{ !cancelled() && needs.shards.result != 'failure' }}
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4

      - uses: actions/setup-node@v4
        with:
          node-version: 20
          cache: npm

      - run: npm ci

      # Restore and save separately, so the cache is kept even when some asset fails.
      # The key covers everything that decides what gets built: the manifest, its includes,
      # the ICC profiles and the lock file. Add your include files' paths here.
      - name: Restore gpt4k cache
        id: gpt4k-cache
        uses: actions/cache/restore@v4
        with:
          path: .gpt4k
          key: gpt4k-\${{ runner.os }}-\${{ hashFiles('assets.pipeline.yaml', 'includes/**', '*.jobs.json', 'profiles/**', 'assets.lock.json') }}
          restore-keys: |
            gpt4k-\${{ runner.os }}-

      - name: Build assets
        run: npx gpt4k build --frozen
        # env:
        #   OPENAI_API_KEY: \${{ secrets.OPENAI_API_KEY }}   # only needed without --frozen

      - name: Save gpt4k cache
        if: always() && steps.gpt4k-cache.outputs.cache-hit != 'true'
        uses: actions/cache/save@v4
        with:
          path: .gpt4k
          key: \${{ steps.gpt4k-cache.outputs.cache-primary-key }}

      - name: Upload deliverables
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: assets
          path: out/
          # out/.thumbs holds the contact sheet's thumbnails (out/report.html).
          include-hidden-files: true
          if-no-files-found: warn

  # Fan-out: each shard builds its part (style references stay with their batch) and uploads
  # it to the remote cache. Only with a remote cache: without one, the shards share nothing.
  shards:
    if: \${{ vars.GPT4K_REMOTE_CACHE != '' }}
    runs-on: ubuntu-latest
    timeout-minutes: 30
    strategy:
      fail-fast: false
      matrix:
        shard: [1, 2, 3]
    steps:
      - uses: actions/checkout@v4

      - uses: actions/setup-node@v4
        with:
          node-version: 20
          cache: npm

      - run: npm ci

      # --frozen: no paid call here either. To let CI generate missing images, drop --frozen,
      # add --max-cost and OPENAI_API_KEY, and see docs/ci.md for the lock file.
      - name: Build shard \${{ matrix.shard }} of 3
        run: npx gpt4k build --frozen --shard \${{ matrix.shard }}/3
`;

export interface InitResult {
  /** Project-relative paths written (a .gitignore that had lines appended counts). */
  created: string[];
  /** Project-relative paths left alone because they exist (or needed nothing). */
  skipped: string[];
}

/**
 * Scaffolds a gpt4k project in `dir`: assets.pipeline.yaml, .gitignore lines and a GitHub
 * Actions workflow. Existing files are never overwritten unless `force`; .gitignore is only
 * ever appended to.
 *
 * @example
 *   const { created, skipped } = await initProject(process.cwd());
 */
export async function initProject(dir: string, options: { force?: boolean } = {}): Promise<InitResult> {
  const root = path.resolve(dir);
  const result: InitResult = { created: [], skipped: [] };
  await mkdir(root, { recursive: true });

  for (const [rel, content] of [
    [MANIFEST_FILE, MANIFEST_TEMPLATE],
    [WORKFLOW_FILE, WORKFLOW_TEMPLATE],
  ] as const) {
    const wrote = await writeNew(path.join(root, ...rel.split('/')), content, options.force === true);
    (wrote ? result.created : result.skipped).push(rel);
  }

  const appended = await appendGitignore(path.join(root, GITIGNORE_FILE), GITIGNORE_LINES);
  (appended ? result.created : result.skipped).push(GITIGNORE_FILE);

  // Keep the order a user reads top to bottom.
  const order = [MANIFEST_FILE, GITIGNORE_FILE, WORKFLOW_FILE];
  const byOrder = (a: string, b: string): number => order.indexOf(a) - order.indexOf(b);
  result.created.sort(byOrder);
  result.skipped.sort(byOrder);
  return result;
}

/** Writes `file` unless it exists (race-free: O_EXCL); with `force`, replaces it. */
async function writeNew(file: string, content: string, force: boolean): Promise<boolean> {
  await mkdir(path.dirname(file), { recursive: true });
  try {
    await writeFile(file, content, { flag: force ? 'w' : 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** `out`, `/out`, `out/` and `/out/` all ignore the same folder at the root. */
function gitignoreForm(line: string): string {
  return line.trim().replace(/^\//, '').replace(/\/$/, '');
}

/** Appends the lines .gitignore lacks; returns whether anything was written. */
async function appendGitignore(file: string, lines: string[]): Promise<boolean> {
  let current = '';
  try {
    current = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const present = new Set(current.split(/\r?\n/).map(gitignoreForm));
  const missing = lines.filter((l) => !present.has(gitignoreForm(l)));
  if (missing.length === 0) return false;
  const eol = current.includes('\r\n') ? '\r\n' : '\n';
  const prefix = current.length > 0 && !current.endsWith('\n') ? eol : '';
  const separator = current.trim().length > 0 ? eol : '';
  await writeFile(file, `${current}${prefix}${separator}# gpt4k: cache and deliverables${eol}${missing.join(eol)}${eol}`);
  return true;
}
