'use strict';
// The example of the Node section of docs/bindings.md runs as the section shows it: its code
// block is written to a temporary directory and run from there, with the arguments the
// section's `node app.js` line gives (absolute, then relative to another working directory),
// and it must print exactly the lines shown below that command. The examples of the package's
// README run too, each printing what the comments after its `console.log`s say.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, relative } = require('node:path');

const REPOSITORY = join(__dirname, '..', '..', '..');
const DOC = join(REPOSITORY, 'docs', 'bindings.md');

/** The Node section: from its heading to the next heading of the same level. */
function section() {
  const text = readFileSync(DOC, 'utf8');
  const start = text.indexOf('\n## Node\n');
  assert.ok(start >= 0, 'docs/bindings.md has no `## Node` section');
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** Every fenced block of the section with its language. */
function blocks(text) {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map(([, language, body]) => ({ language, body }));
}

/** The `node app.js …` command of the section's shell blocks, its arguments with `$REPO`
 * replaced, and the `# ` lines after it: the output it shows. */
function command(list) {
  for (const { language, body } of list.filter((b) => b.language === 'sh')) {
    const lines = body.split('\n');
    const at = lines.findIndex((line) => line.startsWith('node app.js '));
    if (at < 0) continue;
    const args = [...lines[at].slice('node app.js '.length).matchAll(/"([^"]*)"|(\S+)/g)].map((m) =>
      (m[1] ?? m[2]).replaceAll('$REPO', REPOSITORY),
    );
    const output = [];
    for (const line of lines.slice(at + 1)) {
      if (!line.startsWith('# ')) break;
      output.push(line.slice(2));
    }
    return { args, output };
  }
  throw new Error('the Node section shows no `node app.js` command');
}

test('the Node example of docs/bindings.md prints what the section shows, run from anywhere', () => {
  const list = blocks(section());
  const examples = list.filter((b) => b.language === 'js');
  assert.equal(examples.length, 1, 'the Node section holds one JavaScript example');
  const { args, output } = command(list);
  assert.equal(args.length, 2, `the command takes the package and the policy: ${args}`);
  assert.ok(output.length >= 5, `the section shows only ${output.length} lines of output`);
  const dir = mkdtempSync(join(tmpdir(), 'entitle-node-docs-'));
  try {
    const app = join(dir, 'app.js');
    writeFileSync(app, examples[0].body);
    const run = (cwd, argv) => execFileSync(process.execPath, [app, ...argv], { cwd, encoding: 'utf8' });
    // From the temporary directory, with the absolute paths the section gives.
    assert.deepEqual(run(dir, args).trimEnd().split('\n'), output);
    // From the repository's root, with the same paths relative to it.
    assert.deepEqual(run(REPOSITORY, args.map((path) => relative(REPOSITORY, path))).trimEnd().split('\n'), output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the examples of the README print what their comments say, run from anywhere', () => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const examples = blocks(readme).filter((b) => b.language === 'js');
  assert.ok(examples.length >= 2, `the README holds ${examples.length} JavaScript examples`);
  const dir = mkdtempSync(join(tmpdir(), 'entitle-node-readme-'));
  try {
    // `require('entitle')` finds the package as an installed one would be found.
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(join(__dirname, '..'), join(dir, 'node_modules', 'entitle'), 'dir');
    examples.forEach(({ body }, number) => {
      // Each `console.log(…); // output` line says what it prints.
      const expected = [...body.matchAll(/^\s*console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
      assert.ok(expected.length > 0, `example ${number + 1} of the README shows no output`);
      const app = join(dir, `example${number + 1}.js`);
      writeFileSync(app, body);
      const printed = execFileSync(process.execPath, [app], { cwd: dir, encoding: 'utf8' });
      assert.deepEqual(printed.trimEnd().split('\n'), expected, `example ${number + 1} of the README`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
