#!/usr/bin/env node
/**
 * Sizes of the hand-written code in src/ against the rules of issue 16: no function over 120
 * lines, at most five over 80, no file over 450 lines. Generated files (*.generated.ts) and
 * declaration files are exempt. Functions are measured with the TypeScript compiler's own
 * parser (the typescript devDependency), from the first line of the declaration to its closing
 * brace; a function's length includes the closures inside it, which are also listed on their own.
 *
 *   node scripts/size-report.mjs           prints the figures
 *   node scripts/size-report.mjs --check   also exits 1 when a rule is broken
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const MAX_FUNCTION = 120;
const LONG_FUNCTION = 80;
const MAX_LONG_FUNCTIONS = 5;
const MAX_FILE = 450;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return /\.ts$/.test(entry.name) && !/\.d\.ts$|\.generated\.ts$/.test(entry.name) ? [file] : [];
  });
}

/** What a reader would call the function: its own name, or the name it is assigned to. */
function nameOf(node) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (node.name) return node.name.getText();
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && parent.name) return parent.name.getText();
  return '(anonymous)';
}

const functions = [];
const files = [];
for (const file of sourceFiles(src)) {
  const text = readFileSync(file, 'utf8');
  const relative = path.relative(root, file).split(path.sep).join('/');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lineOf = (pos) => source.getLineAndCharacterOfPosition(pos).line + 1;
  files.push({ file: relative, lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0) });
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = lineOf(node.getStart(source));
      functions.push({ file: relative, name: nameOf(node), line: start, lines: lineOf(node.getEnd()) - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

functions.sort((a, b) => b.lines - a.lines);
files.sort((a, b) => b.lines - a.lines);
const long = functions.filter((f) => f.lines > LONG_FUNCTION);
const tooLong = functions.filter((f) => f.lines > MAX_FUNCTION);
const bigFiles = files.filter((f) => f.lines > MAX_FILE);

console.log(`functions over ${LONG_FUNCTION} lines: ${long.length} (at most ${MAX_LONG_FUNCTIONS}); over ${MAX_FUNCTION}: ${tooLong.length} (none allowed)`);
for (const f of long) console.log(`  ${String(f.lines).padStart(4)}  ${f.name}  ${f.file}:${f.line}`);
console.log(`longest functions under ${LONG_FUNCTION + 1} lines:`);
for (const f of functions.filter((f) => f.lines <= LONG_FUNCTION).slice(0, 5)) console.log(`  ${String(f.lines).padStart(4)}  ${f.name}  ${f.file}:${f.line}`);
console.log(`files over ${MAX_FILE} lines: ${bigFiles.length} (none allowed); largest files:`);
for (const f of files.slice(0, 8)) console.log(`  ${String(f.lines).padStart(4)}  ${f.file}`);
console.log(`${files.length} files, ${functions.length} functions measured (generated files exempt)`);

const broken = tooLong.length > 0 || long.length > MAX_LONG_FUNCTIONS || bigFiles.length > 0;
if (process.argv.includes('--check') && broken) {
  console.error('size rules broken (see above)');
  process.exit(1);
}
