// check.mjs parses PowerShell scripts with tree-sitter-powershell and fails
// on any syntax error.
//
//   node check.mjs [--json] PATH...
//
// Each PATH is a .ps1 file or a directory searched for .ps1 files. Every
// ERROR or MISSING node of a parse tree is printed as file:line:col, and the
// exit status is 1 when there is one.
//
// PowerShell also takes the typographic quotes U+2018-U+201E for quotes, and
// the tree-sitter grammar does not: a ' string that a U+2019 ends early in
// PowerShell is one string to tree-sitter. So any such character, anywhere,
// is reported as an error too. With --json, a report goes to standard
// output instead: for each file its errors and how many times each command
// (New-NetFirewallRule, Write-Host, ...) appears, so that tests can check that
// no string smuggled in a command. Exit status 2 means a usage or I/O error,
// or no .ps1 file at all: a check that checked nothing must not pass.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Parser from 'tree-sitter';
import PowerShell from 'tree-sitter-powershell/bindings/node/index.js';

function scripts(path) {
  if (!statSync(path).isDirectory()) {
    return [path];
  }
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => {
      const p = join(path, e.name);
      if (e.isDirectory()) return e.name === 'node_modules' ? [] : scripts(p);
      return e.name.toLowerCase().endsWith('.ps1') ? [p] : [];
    });
}

// parse reads one script and walks its whole tree.
function parse(parser, file) {
  const text = readFileSync(file, 'utf8');
  // A callback input has no length limit, unlike a string argument.
  const tree = parser.parse((i) => (i < text.length ? text.slice(i, i + 4096) : null));
  const errors = [];
  const commands = {};
  text.split('\n').forEach((line, row) => {
    for (const m of line.matchAll(/[\u2018-\u201E]/g)) {
      const code = m[0].codePointAt(0).toString(16).toUpperCase();
      errors.push(`${file}:${row + 1}:${m.index + 1}: QUOTE U+${code}, a quote to PowerShell but not to the parser`);
    }
  });
  const cursor = tree.walk();
  for (;;) {
    const node = cursor.currentNode;
    if (node.type === 'ERROR' || node.isMissing) {
      const { row, column } = node.startPosition;
      const what = node.isMissing ? `MISSING ${node.type}` : 'ERROR';
      errors.push(`${file}:${row + 1}:${column + 1}: ${what} near ${JSON.stringify(node.text.slice(0, 40))}`);
    }
    if (node.type === 'command') {
      const name = node.childForFieldName('command_name');
      const key = name ? name.text : '(no name)';
      commands[key] = (commands[key] || 0) + 1;
    }
    if (cursor.gotoFirstChild() || cursor.gotoNextSibling()) continue;
    let up = true;
    while (up && !cursor.gotoNextSibling()) up = cursor.gotoParent();
    if (!up) break;
  }
  return { path: file, errors, commands };
}

function main(argv) {
  const json = argv[0] === '--json';
  const paths = json ? argv.slice(1) : argv;
  if (paths.length === 0) {
    console.error('usage: node check.mjs [--json] FILE.ps1|DIR...');
    return 2;
  }
  let files;
  try {
    files = paths.flatMap(scripts);
  } catch (e) {
    console.error(`check.mjs: ${e.message}`);
    return 2;
  }
  if (files.length === 0) {
    console.error(`check.mjs: no .ps1 files in ${paths.join(' ')}`);
    return 2;
  }
  const parser = new Parser();
  parser.setLanguage(PowerShell);
  const reports = files.map((f) => parse(parser, f));
  const errors = reports.flatMap((r) => r.errors);
  if (json) {
    console.log(JSON.stringify({ files: reports }, null, 2));
  } else {
    errors.forEach((e) => console.error(e));
    console.log(`check.mjs: ${files.length} scripts, ${errors.length} syntax errors`);
  }
  return errors.length > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
