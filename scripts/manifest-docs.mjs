#!/usr/bin/env node
// Writes docs/manifest.md from schemas/pipeline.schema.json: the schema is the single source of
// truth for the loader, editor completion and this reference. `npm run docs` regenerates it;
// test/manifest-docs.test.ts fails when it is stale.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function manifestReference() {
  const schema = JSON.parse(await readFile(path.join(root, 'schemas/pipeline.schema.json'), 'utf8'));
  const defs = schema.definitions ?? schema.$defs ?? {};
  const resolve = (node) => {
    let current = node;
    for (let i = 0; current?.$ref && i < 10; i++) current = { ...defs[current.$ref.split('/').pop()], ...current, $ref: undefined };
    return current ?? {};
  };
  const typeOf = (node) => {
    const n = resolve(node);
    if (n.enum) return n.enum.map((v) => `\`${v}\``).join(' \\| ');
    if (n.const !== undefined) return `\`${n.const}\``;
    const variants = n.oneOf ?? n.anyOf;
    if (variants) return [...new Set(variants.map(typeOf))].join(' or ');
    if (n.type === 'array') return `list of ${typeOf(n.items ?? {})}`;
    if (n.type === 'object' && !n.properties && n.additionalProperties && typeof n.additionalProperties === 'object') return `map of ${typeOf(n.additionalProperties)}`;
    return Array.isArray(n.type) ? n.type.join(' or ') : (n.type ?? 'any');
  };
  const cell = (text) => String(text ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [
    '# Manifest reference (assets.pipeline.yaml)',
    '',
    'Generated from `schemas/pipeline.schema.json` by `npm run docs`; do not edit by hand.',
    'Unknown fields are errors. Add `# yaml-language-server: $schema=./schemas/pipeline.schema.json`',
    'at the top of a manifest for completion in editors.',
    '',
  ];
  const seen = new Set();
  /** if/then/else and oneOf/anyOf alternatives, each documented as its own form. */
  const alternatives = (n) => {
    const out = [];
    const walk = (x) => {
      const r = resolve(x);
      if (r.properties) out.push(r);
      for (const v of r.oneOf ?? r.anyOf ?? []) walk(v);
      if (r.then) walk(r.then);
      if (r.else) walk(r.else);
    };
    walk(n);
    return out;
  };
  const section = (title, node, depth) => {
    let n = resolve(node);
    if (!n.properties && n.additionalProperties && typeof n.additionalProperties === 'object') {
      const forms = alternatives(n.additionalProperties);
      if (forms.length > 1) {
        for (const form of forms) section(`${title} (${form.title ?? form.description?.split(/[.:]/)[0] ?? 'form'})`, form, depth + 1);
        return;
      }
    }
    if (!n.properties && !n.additionalProperties) {
      const forms = alternatives(n);
      if (forms.length === 1) n = forms[0];
    }
    const props = n.properties ?? (n.additionalProperties && typeof n.additionalProperties === 'object' ? resolve(n.additionalProperties).properties : undefined);
    if (!props || seen.has(title) || depth > 4) return;
    seen.add(title);
    lines.push(`## \`${title}\``, '');
    if (n.description) lines.push(cell(n.description), '');
    lines.push('| field | type | description |', '| --- | --- | --- |');
    const nested = [];
    for (const [name, child] of Object.entries(props)) {
      if (name === '$schema') continue;
      const c = resolve(child);
      lines.push(`| \`${name}\` | ${cell(typeOf(child))} | ${cell(child.description ?? c.description)} |`);
      const isMap = c.type === 'object' && !c.properties && c.additionalProperties && typeof c.additionalProperties === 'object';
      if (c.properties || isMap) nested.push([isMap ? `${title}.${name}.<id>` : `${title}.${name}`, c]);
      else if (c.type === 'array') for (const form of alternatives(c.items ?? {})) nested.push([`${title}.${name}[]`, form]);
      for (const variant of c.oneOf ?? c.anyOf ?? []) {
        const v = resolve(variant);
        if (v.properties) nested.push([`${title}.${name} (${v.title ?? 'object form'})`, v]);
      }
    }
    lines.push('');
    for (const [childTitle, child] of nested) section(childTitle, child, depth + 1);
  };
  section('manifest', schema, 0);
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = path.join(root, 'docs/manifest.md');
  await writeFile(file, await manifestReference());
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
