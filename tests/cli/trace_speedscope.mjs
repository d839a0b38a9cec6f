// A Chrome trace-event file imported by speedscope's own importer, in a
// headless Chromium: speedscope's page is loaded from its npm package the
// way its CLI does it (index.html#localProfilePath= a script that hands the
// file over as base64), so the parser is the one users run, not ours.
//
// usage: node trace_speedscope.mjs NODE_MODULES_DIR CHROMIUM TRACE.json
// Prints one JSON line: {"title", "profiles": [names], "frames": [names],
// "errors": [...], "warnings": [the importer's console warnings]}
// and exits 0 when the import succeeded, 1 when speedscope rejected the
// file, 77 when Node.js is older than 20 or playwright-core or speedscope
// cannot be loaded.
import {createRequire} from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [modules, chromium, file] = process.argv.slice(2);
// playwright-core exits 1 at its first require on a Node.js older than 20
// (Debian 12's own is 18): that is a consumer missing, not a rejection.
if (+process.versions.node.split('.')[0] < 20) {
  console.log(`SKIP: Node.js ${process.versions.node}: playwright-core needs 20 or newer`);
  process.exit(77);
}
const require = createRequire(path.join(modules, 'x.js'));
let pw, index;
try {
  pw = require('playwright-core');
  index = path.join(modules, 'speedscope', 'dist', 'release', 'index.html');
  fs.accessSync(index);
} catch (e) {
  console.log(`SKIP: ${e.message.split('\n')[0]}`);
  process.exit(77);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-speedscope-'));
const loader = path.join(dir, 'load.js');
const b64 = fs.readFileSync(file).toString('base64');
fs.writeFileSync(loader, `speedscope.loadFileFromBase64(${JSON.stringify(path.basename(file))}, "${b64}");\n`);

const errors = [], warnings = [];
let browser;
try {
  browser = await pw.chromium.launch({
    executablePath: chromium,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--allow-file-access-from-files'],
  });
} catch (e) {
  console.log(`SKIP: chromium does not start: ${e.message.split('\n')[0]}`);
  fs.rmSync(dir, {recursive: true});
  process.exit(77);
}
let out = {title: '', profiles: [], errors, warnings};
try {
  const page = await browser.newPage({acceptDownloads: true});
  page.on('dialog', async d => { errors.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('pageerror', e => errors.push(`page error: ${e.message}`));
  // The importer's complaints (slices that overlap, ends without a start)
  // come as console warnings: a file it had to repair is not accepted.
  page.on('console', m => {
    if (/^\[\.WebGL/.test(m.text())) return; // the headless GPU's, not the importer's
    if (m.type() === 'warning')
      warnings.push(m.text());
    else if (m.type() === 'error' || /Failed to load format/.test(m.text()))
      errors.push(`console ${m.type()}: ${m.text()}`);
  });
  // speedscope's loader strips the leading '/': file:///${path}.
  await page.goto(`file://${index}#localProfilePath=${loader.replace(/^\//, '')}`);
  // Done when the title names the file (import succeeded) or an error came.
  const failed = new Promise(resolve => {
    const poll = setInterval(() => { if (errors.length) { clearInterval(poll); resolve(); } }, 50);
    page.once('close', () => clearInterval(poll));
  });
  await Promise.race([failed, page.waitForFunction(() => document.title.endsWith(' - speedscope'),
                                                     null, {timeout: 30000})])
      .catch(e => errors.push(`no import: ${e.message.split('\n')[0]}`));
  out.title = await page.title();
  // What speedscope made of the file, in its own words: its Export button
  // writes the imported profiles (one per thread track) and their frames.
  if (!errors.length) {
    const [dl] = await Promise.all([page.waitForEvent('download', {timeout: 30000}),
                                    page.getByText('Export', {exact: false}).first().click()]);
    const doc = JSON.parse(fs.readFileSync(await dl.path(), 'utf8'));
    out.profiles = doc.profiles.map(p => p.name);
    out.frames = doc.shared.frames.map(f => f.name);
  }
} finally {
  await browser.close();
  fs.rmSync(dir, {recursive: true});
}
console.log(JSON.stringify(out));
process.exit(errors.length ? 1 : 0);
