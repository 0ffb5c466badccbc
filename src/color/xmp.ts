import { createHash } from 'node:crypto';
import type { AssetMetadata } from '../manifest/types.js';

/**
 * Where a deliverable came from, and the XMP packet that says so (docs/provenance.md).
 *
 * Every fact is a function of content, never of the clock at render time: the ids are hashes of
 * content hashes and keys, the date is the generation record's (or SOURCE_DATE_EPOCH), so a
 * rebuild of the same bytes writes the same packet, byte for byte.
 */

/** IPTC Digital Source Type terms gpt4k writes (http://cv.iptc.org/newscodes/digitalsourcetype/). */
export type DigitalSourceType = 'trainedAlgorithmicMedia' | 'compositeWithTrainedAlgorithmicMedia';

export const DIGITAL_SOURCE_TYPE_URI = 'http://cv.iptc.org/newscodes/digitalsourcetype/';

/** The provenance of one deliverable: what the engine knows when it renders it. */
export interface Provenance {
  asset: string;
  target: string;
  /** gpt4k's version, for CreatorTool and TIFF Software. */
  toolVersion: string;
  /** Absent for a `source:` photo (gpt4k only resized and converted it: no claim is made). */
  digitalSourceType?: DigitalSourceType;
  /** Create/modify date: the generation record's, or SOURCE_DATE_EPOCH; absent when none is known. */
  date?: Date;
  provider?: string;
  model?: string;
  /** `sha256:<hex>` of the prompt as sent (style prefix included). */
  promptHash?: string;
  /** The prompt itself, only when the manifest opts in (`provenance: { prompt: true }`). */
  prompt?: string;
  /** Content hash of the generated image or the source photo (the store's hash). */
  sourceHash: string;
  /** The upscaled image's name in the store (its content hash, or its key when not stored). */
  upscaleHash?: string;
  /** The render node's key: the instance id is derived from it. */
  renderKey: string;
  /** The provider's own C2PA manifest, kept as a sidecar beside the deliverable. */
  c2pa?: { file: string; hash: string };
  /** The manifest's `metadata:` (rights, credit, keywords). */
  metadata?: AssetMetadata;
}

/** What the rendition itself is: its color and, for a PDF, what PDF/X wants said. */
export interface Rendition {
  format: string;
  iccDescription: string;
  intent: string;
  bpc: boolean;
  pdf?: { title: string; pdfxVersion: string; trapped: boolean };
}

/** gpt4k's own namespace for the facts no standard schema has a property for. */
export const GPT4K_NS = 'https://gpt4k.dev/ns/provenance/1.0/';

const NAMESPACES: Record<string, string> = {
  dc: 'http://purl.org/dc/elements/1.1/',
  xmp: 'http://ns.adobe.com/xap/1.0/',
  xmpMM: 'http://ns.adobe.com/xap/1.0/mm/',
  stRef: 'http://ns.adobe.com/xap/1.0/sType/ResourceRef#',
  Iptc4xmpExt: 'http://iptc.org/std/Iptc4xmpExt/2008-02-29/',
  photoshop: 'http://ns.adobe.com/photoshop/1.0/',
  xmpRights: 'http://ns.adobe.com/xap/1.0/rights/',
  pdf: 'http://ns.adobe.com/pdf/1.3/',
  pdfxid: 'http://www.npes.org/pdfx/ns/id/',
  gpt4k: GPT4K_NS,
};

/**
 * The XMP properties a PDF/X-4 file must carry (ISO 15930-7:2010, 6.7.2, document metadata;
 * the same list Acrobat's "PDF/X-4 compliance" preflight checks): test/provenance.test.ts
 * reads each one back from a rendered PDF.
 */
export const PDFX4_REQUIRED_XMP = [
  'pdfxid:GTS_PDFXVersion',
  'dc:title',
  'xmp:CreateDate',
  'xmp:ModifyDate',
  'pdf:Trapped',
  'xmpMM:DocumentID',
  'xmpMM:VersionID',
  'xmpMM:RenditionClass',
] as const;

function idHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);
}

/** The same document across renders of the same original for the same target. */
export function documentId(p: Provenance): string {
  return `xmp.did:${idHash('document', p.sourceHash, p.asset, p.target)}`;
}

/** This rendition: the render's key (its inputs' content, the target, the profile) and gpt4k's version. */
export function instanceId(p: Provenance): string {
  return `xmp.iid:${idHash('instance', p.renderKey, p.toolVersion)}`;
}

/** The generated image or the source photo, named by its content. */
export function originalDocumentId(p: Provenance): string {
  return `xmp.did:${idHash('original', p.sourceHash)}`;
}

function upscaleInstanceId(p: Provenance): string {
  return `xmp.iid:${idHash('upscale', p.upscaleHash ?? p.sourceHash)}`;
}

export function sha256Text(text: string): string {
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}

/** XMP dates: UTC, whole seconds. */
export function xmpDate(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

function escapeXml(value: string): string {
  // Control characters are not allowed in XML 1.0; the rest is escaped.
  const clean = value.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, ' ');
  return clean.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);
}

function simple(name: string, value: string | undefined): string[] {
  return value === undefined ? [] : [`   <${name}>${escapeXml(value)}</${name}>`];
}

function alt(name: string, value: string): string[] {
  return [`   <${name}><rdf:Alt><rdf:li xml:lang="x-default">${escapeXml(value)}</rdf:li></rdf:Alt></${name}>`];
}

function bag(name: string, values: string[] | undefined): string[] {
  if (!values?.length) return [];
  return [`   <${name}><rdf:Bag>${values.map((v) => `<rdf:li>${escapeXml(v)}</rdf:li>`).join('')}</rdf:Bag></${name}>`];
}

/** The manifest's `metadata:` as IPTC Core sees it: Copyright Notice, Credit Line, Rights Usage Terms, Keywords. */
function rightsLines(m: AssetMetadata | undefined): string[] {
  if (!m) return [];
  return [
    ...(m.copyright !== undefined ? [...alt('dc:rights', m.copyright), ...simple('xmpRights:Marked', 'True')] : []),
    ...bag('dc:subject', m.keywords),
    ...simple('photoshop:Credit', m.credit),
    ...(m.usageTerms !== undefined ? alt('xmpRights:UsageTerms', m.usageTerms) : []),
  ];
}

function resourceRef(documentID: string, instanceID: string): string {
  return `<stRef:documentID>${documentID}</stRef:documentID><stRef:instanceID>${instanceID}</stRef:instanceID>`;
}

/** The XMP packet for one deliverable (UTF-8, with the xpacket wrapper sharp and PDF embed as is). */
export function xmpPacket(p: Provenance, r: Rendition): string {
  const date = p.date ? xmpDate(p.date) : undefined;
  const original = originalDocumentId(p);
  const upscale = upscaleInstanceId(p);
  const lines = [
    ...(r.pdf ? alt('dc:title', r.pdf.title) : []),
    ...alt('dc:description', `${p.asset} / ${p.target}`),
    ...simple('dc:format', MIME[r.format] ?? r.format),
    ...rightsLines(p.metadata),
    ...simple('xmp:CreatorTool', `gpt4k ${p.toolVersion}`),
    ...simple('xmp:CreateDate', date),
    ...simple('xmp:ModifyDate', date),
    ...simple('xmp:MetadataDate', date),
    ...simple('xmpMM:DocumentID', documentId(p)),
    ...simple('xmpMM:InstanceID', instanceId(p)),
    ...simple('xmpMM:OriginalDocumentID', original),
    ...simple('xmpMM:VersionID', '1'),
    ...simple('xmpMM:RenditionClass', 'default'),
    // The upscale this render was made from, as a version of the original.
    `   <xmpMM:DerivedFrom rdf:parseType="Resource">${resourceRef(original, upscale)}</xmpMM:DerivedFrom>`,
    ...(p.digitalSourceType ? simple('Iptc4xmpExt:DigitalSourceType', DIGITAL_SOURCE_TYPE_URI + p.digitalSourceType) : []),
    ...(p.digitalSourceType ? simple('Iptc4xmpExt:AISystemUsed', p.model) : []),
    ...(p.digitalSourceType && p.prompt !== undefined ? simple('Iptc4xmpExt:AIPromptInformation', p.prompt) : []),
    ...simple('photoshop:ICCProfile', r.iccDescription),
    ...(r.pdf ? [...simple('pdf:Producer', `gpt4k ${p.toolVersion}`), ...simple('pdf:Trapped', r.pdf.trapped ? 'True' : 'False')] : []),
    ...(r.pdf ? simple('pdfxid:GTS_PDFXVersion', r.pdf.pdfxVersion) : []),
    ...simple('gpt4k:Asset', p.asset),
    ...simple('gpt4k:Target', p.target),
    ...simple('gpt4k:Provider', p.provider),
    ...simple('gpt4k:Model', p.model),
    ...simple('gpt4k:PromptHash', p.promptHash),
    ...simple('gpt4k:SourceHash', p.sourceHash),
    ...simple('gpt4k:UpscaleHash', p.upscaleHash),
    ...simple('gpt4k:RenderingIntent', r.intent),
    ...simple('gpt4k:BlackPointCompensation', r.bpc ? 'True' : 'False'),
    ...simple('gpt4k:ProviderC2PA', p.c2pa?.file),
    ...simple('gpt4k:ProviderC2PAHash', p.c2pa?.hash),
  ];
  const used = Object.entries(NAMESPACES).filter(([prefix]) => lines.some((l) => l.includes(`<${prefix}:`)));
  const xmlns = used.map(([prefix, uri]) => `\n    xmlns:${prefix}="${uri}"`).join('');
  return `<?xpacket begin="\u{feff}" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""${xmlns}>
${lines.join('\n')}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>`;
}

const MIME: Record<string, string> = { tiff: 'image/tiff', png: 'image/png', jpeg: 'image/jpeg', pdf: 'application/pdf' };
