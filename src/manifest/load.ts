import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Diagnostic } from '../util/errors.js';
import { fail, ok, type Result } from '../util/result.js';
import { BUILTIN_PROFILES, isBuiltinProfile, type Limits, type ProfileRef, type ResolvedAsset, type ResolvedManifest, type ResolvedStyle } from './types.js';
import { baseGenerate, baseUpscale, checkBackends, checkStyleName, checkTargetNames, generatePositions, mergeGenerate, mergeUpscale, resolveAsset, type AssetEntry } from './assets.js';
import type { ManifestBackends } from './backends.js';
import { attachDeclarations, resolveDeclaredModels } from './models.js';
import { Diagnostics, sortDiagnostics } from './context.js';
import { DEFAULTS, defaultProcessLimit } from './defaults.js';
import { isFile, isInside, staysInsideOnDisk } from './paths.js';
import { sourceFileOf, type DataPath, type Located, type SourceFile } from './positions.js';
import { ParseCache } from './parse-cache.js';
import type { RawBatchEntry, RawCatalogInclude, RawManifest } from './raw.js';
import { didYouMean } from './suggest.js';
import { quote, schemaStamp, validateSchema } from './schema.js';
import { checkReferenceLimits, checkStyleCycles, checkStyleLinks, resolveStyles } from './styles.js';
import { resolveTargets } from './targets.js';

export interface LoadOptions {
  cwd?: string;
  mode?: string;
  backends: ManifestBackends;
}

/** Include files gpt4k reads: the batch format as JSON, or the same list written in YAML. */
const INCLUDE_EXTENSIONS = ['.json', '.yaml', '.yml'];
/** Catalog includes (catalog.ts, loaded only for them: it brings a CSV parser and Mustache). */
const CATALOG_EXTENSIONS = ['.csv', '.jsonl', '.ndjson'];
/** gpt4k's own state lives here; deliverables must not land in it. */
const STATE_DIR = '.gpt4k';

/**
 * Loads assets.pipeline.yaml: parse with positions, validate against the schema, apply
 * defaults, expand includes, resolve paths and references. Either a fully resolved manifest or
 * every error found, sorted by file, line and column. Stages that need a schema-valid file run
 * only once the file is valid, so an unknown field is reported before the checks that follow it.
 * `backends` answers for the providers and upscale engines (engine/backends.ts has the built-in
 * ones; index.ts's loadManifest passes them).
 */
export async function loadManifest(file: string, options: LoadOptions): Promise<Result<ResolvedManifest, Diagnostic[]>> {
  const manifestFile = path.resolve(options.cwd ?? process.cwd(), file);
  const root = path.dirname(manifestFile);
  const diagnostics = new Diagnostics();
  const inputFiles = [manifestFile];
  const done = (): Diagnostic[] => sortDiagnostics(diagnostics.errors, inputFiles);

  const cache = new ParseCache(root, path.join(root, STATE_DIR));
  const source = await readSource(manifestFile, undefined, 'manifest', diagnostics, cache);
  if (!source) return fail(done());
  const raw = source.data as RawManifest;

  let outputDir = resolveOutput(raw.output, root, source, diagnostics);
  const profiles = resolveProfiles(raw.profiles ?? {}, root, source, diagnostics);
  const targets = resolveTargets(raw.targets ?? {}, profiles, source, diagnostics);
  const targetIds = [...targets.keys()];
  const styles = resolveStyles(raw.styles ?? {}, source, root, diagnostics);

  const defaults = raw.defaults ?? {};
  checkBackends(defaults.generate, defaults.upscale, source, ['defaults'], diagnostics, options.backends);
  const declaredModels = await resolveDeclaredModels(raw.models, source, diagnostics, options.backends);
  if (defaults.targets) checkTargetNames(defaults.targets, targetIds, source, ['defaults', 'targets'], diagnostics);

  const entries = [...manifestEntries(raw, source), ...(await includedEntries(raw, { root, source, targetIds, styles, inputFiles }, diagnostics, cache))];
  checkDuplicateIds(entries, diagnostics);
  for (const [name, mode] of Object.entries(raw.modes ?? {})) {
    checkBackends(mode.generate, mode.upscale, source, ['modes', name], diagnostics, options.backends);
    if (mode.targets) checkTargetNames(mode.targets, targetIds, source, ['modes', name, 'targets'], diagnostics);
  }

  const scope = {
    root,
    styles,
    targetIds,
    defaultTargets: defaults.targets,
    generate: mergeGenerate(baseGenerate(), defaults.generate),
    generateAt: generatePositions({}, defaults.generate, source, ['defaults']),
    upscale: mergeUpscale(baseUpscale(), defaults.upscale, root),
    metadata: defaults.metadata,
    diagnostics,
    backends: options.backends,
  };
  const assets = entries.map((entry) => resolveAsset(entry, scope));
  checkStyleLinks(styles, assets.map((a) => a.id), source, diagnostics);
  checkStyleCycles(assets, styles, source, diagnostics);
  if (targets.size === 0 && assets.length > 0) {
    diagnostics.warn('W_NO_TARGETS', 'the manifest declares no targets, so nothing will be delivered', source.valueAt([]));
  }

  if (options.mode !== undefined && outputDir) {
    outputDir = applyMode(options.mode, raw, { root, source, outputDir, assets, diagnostics });
  }

  attachDeclarations(assets, declaredModels);
  if (diagnostics.errors.length === 0) await checkProviderParams(assets, { root, backends: options.backends }, diagnostics);
  if (diagnostics.errors.length === 0) {
    const backends = options.backends;
    await checkReferenceLimits(assets, styles, source, diagnostics, (params, count) => backends.referenceLimitProblem(params, count));
  }

  if (diagnostics.errors.length > 0 || !outputDir) return fail(done());
  return ok({
    file: manifestFile,
    root,
    version: 1,
    outputDir,
    limits: resolveLimits(raw.limits),
    ...(raw.cache?.remote ? { remoteCache: raw.cache.remote } : {}),
    styles,
    profiles,
    targets,
    assets,
    inputFiles,
    pricing: raw.pricing ?? {},
    provenance: { prompt: raw.provenance?.prompt ?? false },
    warnings: sortDiagnostics(diagnostics.warnings, inputFiles),
    modes: Object.keys(raw.modes ?? {}),
    models: [...declaredModels.values()],
    ...(options.mode !== undefined ? { mode: options.mode } : {}),
  });
}

/**
 * Builds in a mode (`gpt4k build --mode draft`): the mode's generate and upscale settings win
 * over every asset's own, its targets replace every asset's, and its deliverables go to
 * out/_<mode>/ (or the mode's own `output:`), so a draft never overwrites the final files. Ids
 * cannot start with "_", so out/_draft/ cannot collide with an asset's folder.
 */
function applyMode(
  name: string,
  raw: RawManifest,
  ctx: { root: string; source: SourceFile; outputDir: string; assets: ResolvedAsset[]; diagnostics: Diagnostics },
): string | undefined {
  const mode = raw.modes?.[name];
  if (!mode) {
    const declared = Object.keys(raw.modes ?? {});
    ctx.diagnostics.error(
      'E_UNKNOWN_MODE',
      `unknown mode ${quote(name)}`,
      raw.modes ? ctx.source.keyAt(['modes']) : undefined,
      didYouMean(name, declared) ?? (declared.length === 0 ? 'declare it under modes:, e.g. modes: { draft: { generate: { quality: low } } }' : undefined),
    );
    return undefined;
  }
  for (const asset of ctx.assets) {
    asset.generate = mergeGenerate(asset.generate, mode.generate);
    asset.generateAt = generatePositions(asset.generateAt ?? {}, mode.generate, ctx.source, ['modes', name]);
    asset.upscale = mergeUpscale(asset.upscale, mode.upscale, ctx.root);
    if (mode.targets) asset.targets = [...mode.targets];
  }
  if (mode.output !== undefined) return resolveOutput(mode.output, ctx.root, ctx.source, ctx.diagnostics, ['modes', name, 'output']);
  return path.join(ctx.outputDir, `_${name}`);
}

/** Reads, parses and schema-checks one file; undefined (with diagnostics) when it cannot be used. */
async function readSource(
  file: string,
  missingAt: Located | undefined,
  kind: 'manifest' | 'batch',
  diagnostics: Diagnostics,
  cache: ParseCache,
): Promise<SourceFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const what = kind === 'manifest' ? 'manifest' : 'include file';
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`;
    diagnostics.error('E_MISSING_FILE', `${what} ${quote(file)} ${reason}`, missingAt);
    return undefined;
  }
  // An unchanged file is read back from .gpt4k/parsed/ instead of parsed (parse-cache.ts).
  const kept = await cache.get(file, text);
  const stamp = schemaStamp(kind);
  if (kept) {
    const source = sourceFileOf(file, text, kept.parsed);
    // Data found valid against this very schema before is valid now: not checked again.
    if (kept.validAgainst === stamp) return source;
    const schemaErrors = await validateSchema(kind, source);
    diagnostics.errors.push(...schemaErrors);
    if (schemaErrors.length === 0) await cache.put(file, text, kept.parsed, stamp);
    return schemaErrors.length > 0 ? undefined : source;
  }
  const { parseSource } = await import('./parse.js');
  const result = parseSource(file, text);
  diagnostics.errors.push(...result.errors);
  diagnostics.warnings.push(...result.warnings);
  if (!result.source) return undefined;
  const schemaErrors = await validateSchema(kind, result.source);
  diagnostics.errors.push(...schemaErrors);
  if (schemaErrors.length > 0) return undefined;
  // Only a clean parse is kept: every YAML diagnostic still comes from the parser.
  if (result.parsed && result.errors.length === 0 && result.warnings.length === 0) await cache.put(file, text, result.parsed, stamp);
  return result.source;
}

/** output must stay inside the project, and be neither the project root nor gpt4k's state dir. */
function resolveOutput(value: string | undefined, root: string, source: SourceFile, diagnostics: Diagnostics, field: DataPath = ['output']): string | undefined {
  const given = value ?? DEFAULTS.output;
  const outputDir = path.resolve(root, given);
  const at = value === undefined ? undefined : source.valueAt(field);
  if (!isInside(root, outputDir) || !staysInsideOnDisk(root, outputDir)) {
    diagnostics.error('E_PATH_ESCAPE', `output ${quote(given)} is outside the project directory`, at, `use a folder inside ${root}, such as "out"`);
    return undefined;
  }
  if (outputDir === root || isInside(path.join(root, STATE_DIR), outputDir) || isInside(path.join(root, '.git'), outputDir)) {
    diagnostics.error('E_BAD_OUTPUT', `output ${quote(given)} would mix deliverables with the project's own files`, at, 'use a folder of its own, such as "out"');
    return undefined;
  }
  return outputDir;
}

/**
 * Profile files may live outside the project (they are only read, e.g. a shared ICC folder).
 * Built-in profiles are always in the map, so a target can name "fogra39" without declaring it;
 * a declared name shadows a built-in one.
 */
function resolveProfiles(raw: Record<string, string>, root: string, source: SourceFile, diagnostics: Diagnostics): Map<string, ProfileRef> {
  const profiles = new Map<string, ProfileRef>();
  for (const name of BUILTIN_PROFILES) profiles.set(name, { kind: 'builtin', name });
  for (const [name, value] of Object.entries(raw)) {
    if (isBuiltinProfile(value)) {
      profiles.set(name, { kind: 'builtin', name: value });
      continue;
    }
    const at = source.valueAt(['profiles', name]);
    const file = path.resolve(root, value);
    if (!isFile(file)) {
      diagnostics.error('E_MISSING_FILE', `profile file ${quote(value)} does not exist`, at, `looked for ${file}; or use a built-in profile: ${BUILTIN_PROFILES.join(', ')}`);
    }
    profiles.set(name, { kind: 'file', path: file, at: at.at });
  }
  return profiles;
}

function resolveLimits(raw: RawManifest['limits']): Limits {
  const limits: Limits = {
    generate: raw?.generate ?? DEFAULTS.limits.generate,
    process: raw?.process ?? defaultProcessLimit(),
    gpu: raw?.gpu ?? DEFAULTS.limits.gpu,
  };
  if (raw?.imagesPerMinute !== undefined) limits.imagesPerMinute = raw.imagesPerMinute;
  if (raw?.maxCostUsd !== undefined) limits.maxCostUsd = raw.maxCostUsd;
  return limits;
}

function manifestEntries(raw: RawManifest, source: SourceFile): AssetEntry[] {
  return Object.entries(raw.assets ?? {}).map(([id, asset]) => ({
    id,
    raw: asset,
    source,
    path: ['assets', id],
    idAt: source.keyAt(['assets', id]),
  }));
}

/** The assets of every `include:` entry, in order; each include file read is added to `known.inputFiles`. */
async function includedEntries(
  raw: RawManifest,
  known: { root: string; source: SourceFile; targetIds: string[]; styles: Map<string, ResolvedStyle>; inputFiles: string[] },
  diagnostics: Diagnostics,
  cache: ParseCache,
): Promise<AssetEntry[]> {
  const entries: AssetEntry[] = [];
  for (const [index, include] of (raw.include ?? []).entries()) {
    const included = await includeEntries(include, index, known.root, known.source, known, diagnostics, cache);
    if (!included) continue;
    known.inputFiles.push(included.file);
    entries.push(...included.entries);
  }
  return entries;
}

/** Reads one `include:` entry: a path, or { file, style, targets } giving defaults to its assets. */
async function includeEntries(
  include: string | RawCatalogInclude,
  index: number,
  root: string,
  manifest: SourceFile,
  known: { targetIds: string[]; styles: Map<string, ResolvedStyle> },
  diagnostics: Diagnostics,
  cache: ParseCache,
): Promise<{ file: string; entries: AssetEntry[] } | undefined> {
  const spec: RawCatalogInclude = typeof include === 'string' ? { file: include } : include;
  const fileAt = manifest.valueAt(typeof include === 'string' ? ['include', index] : ['include', index, 'file']);
  if (spec.targets) checkTargetNames(spec.targets, known.targetIds, manifest, ['include', index, 'targets'], diagnostics);
  if (spec.style !== undefined) checkStyleName(spec.style, known.styles, manifest.valueAt(['include', index, 'style']), diagnostics);

  const file = path.resolve(root, spec.file);
  if (!isInside(root, file) || !staysInsideOnDisk(root, file)) {
    diagnostics.error('E_PATH_ESCAPE', `include ${quote(spec.file)} is outside the project directory${isInside(root, file) ? ' (through a symlink)' : ''}`, fileAt, `keep include files under ${root}`);
    return undefined;
  }
  const extension = path.extname(file).toLowerCase();
  const catalog = CATALOG_EXTENSIONS.includes(extension);
  if (!INCLUDE_EXTENSIONS.includes(extension) && !catalog) {
    diagnostics.error('E_INCLUDE_FORMAT', `include ${quote(spec.file)} is not a .json, .yaml, .yml, .csv or .jsonl file`, fileAt);
    return undefined;
  }
  if (!isFile(file)) {
    diagnostics.error('E_MISSING_FILE', `include file ${quote(spec.file)} does not exist`, fileAt, `looked for ${file}`);
    return undefined;
  }
  if (catalog) {
    const { catalogEntries } = await import('./catalog.js');
    return { file, entries: await catalogEntries(spec, index, file, manifest, diagnostics) };
  }
  for (const field of ['id', 'prompt', 'generate', 'upscale', 'normalize', 'delimiter'] as const) {
    if (spec[field] === undefined) continue;
    diagnostics.error(
      'E_CONFLICT',
      `include ${quote(spec.file)}: ${field} applies to catalog includes (.csv, .jsonl), not to a ${extension} batch`,
      manifest.keyAt(['include', index, field]),
      'put it on the entries of the batch file instead',
    );
  }
  const source = await readSource(file, fileAt, 'batch', diagnostics, cache);
  if (!source) return { file, entries: [] };

  const inherited: NonNullable<AssetEntry['inherited']> = {};
  if (spec.style !== undefined) inherited.style = spec.style;
  if (spec.targets !== undefined) inherited.targets = spec.targets;
  const entries = (source.data as RawBatchEntry[]).map(({ id, ...asset }, i): AssetEntry => ({
    id,
    raw: asset,
    source,
    path: [i],
    idAt: source.valueAt([i, 'id']),
    inherited,
  }));
  return { file, entries };
}

/** Ids become folder names, so they must be unique across the manifest and all includes. */
function checkDuplicateIds(entries: AssetEntry[], diagnostics: Diagnostics): void {
  const first = new Map<string, Located>();
  for (const entry of entries) {
    const earlier = first.get(entry.id);
    if (!earlier) {
      first.set(entry.id, entry.idAt);
      continue;
    }
    const { file, line, col } = earlier.at;
    const where = entry.label !== undefined ? `${entry.label}: ` : '';
    diagnostics.error('E_DUPLICATE_ID', `${where}duplicate asset id ${quote(entry.id)} (first defined at ${file}:${line}:${col})`, entry.idAt, 'rename one of them');
  }
}

/**
 * Each provider's own checks of its parameters (sizes, qualities, retired options), so nothing
 * invalid reaches an API and the error points into the manifest: at the value it is about
 * (`quality: xhigh` where it is written, be it defaults.generate, the asset or a mode), else at
 * the asset. Assets sharing parameters and positions are checked once: a catalogue of a
 * thousand rows costs one check.
 */
async function checkProviderParams(assets: ResolvedAsset[], project: { root: string; backends: ManifestBackends }, diagnostics: Diagnostics): Promise<void> {
  const seen = new Set<string>();
  for (const asset of assets) {
    if (asset.source) continue;
    const fieldAt = Object.fromEntries(Object.entries(asset.generateAt ?? {}).map(([field, located]) => [field, located.at]));
    const key = JSON.stringify([asset.generate.provider, asset.generate.model, asset.generate.size, asset.generate.quality, asset.generate.options, fieldAt]);
    if (seen.has(key)) continue;
    seen.add(key);
    const lines = new Map(Object.values(asset.generateAt ?? {}).map((located) => [positionKey(located.at), located.sourceLine]));
    for (const d of await project.backends.validateGenerate(asset.generate, { projectRoot: project.root, at: asset.at, fieldAt })) {
      const sourceLine = d.at && d.sourceLine === undefined ? lines.get(positionKey(d.at)) : undefined;
      const located = sourceLine !== undefined ? { ...d, sourceLine } : d;
      (d.severity === 'warning' ? diagnostics.warnings : diagnostics.errors).push(located);
    }
  }
}

function positionKey(at: { file: string; line: number; col: number }): string {
  return `${at.file}:${at.line}:${at.col}`;
}
