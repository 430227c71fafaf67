// `npm run check`: svelte-check, failing on any error or warning, with one known exception.
//
// The generated api-types.ts declares a type named `Record` (the store's record), which shadows
// TypeScript's built-in `Record<K, V>` that the same file uses for `Record.meta`; tsc reports
// "Type 'Record' is not generic" there. The file is generated from the Rust types and must not be
// edited by hand; the fix belongs in the generator (emit `{ [key in string]?: JsonValue }` for
// `meta`). Until then this one diagnostic is reported but tolerated; every other one fails.
import { spawnSync } from 'node:child_process';

const KNOWN = [{ filename: 'src/lib/api-types.ts', message: "Type 'Record' is not generic." }];

const run = spawnSync('npx', ['svelte-check', '--tsconfig', './tsconfig.json', '--output', 'machine-verbose'], {
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
if (run.error) throw run.error;
let failures = 0;
let known = 0;
let completed = false;
for (const line of run.stdout.split('\n')) {
  const json = line.indexOf('{');
  if (line.includes(' COMPLETED ')) completed = true;
  if (json < 0) continue;
  let d;
  try {
    d = JSON.parse(line.slice(json));
  } catch {
    continue;
  }
  if (d.type !== 'ERROR' && d.type !== 'WARNING') continue;
  const where = `${d.filename}:${d.start.line + 1}:${d.start.character + 1}`;
  if (KNOWN.some((k) => k.filename === d.filename && k.message === d.message)) {
    known++;
    console.log(`known (generator bug, tolerated): ${where} ${d.message}`);
    continue;
  }
  failures++;
  console.log(`${d.type}: ${where} ${d.message}`);
}
if (!completed) {
  console.error(run.stdout, run.stderr);
  console.error('svelte-check did not complete');
  process.exit(2);
}
console.log(`svelte-check: ${failures} problem(s), ${known} known generator issue(s) tolerated`);
process.exit(failures ? 1 : 0);
