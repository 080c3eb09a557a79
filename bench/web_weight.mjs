// Web app first-load weight and time to interactive, plus axe counts per screen, against the local
// stack (started here on free ports, like the web tests). Prints its figures; asserts nothing.
//   node bench/web_weight.mjs [--runs 5]      (needs web/node_modules: cd web && npm ci)
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 5;
const harness = await import(join(HERE, '..', 'web', 'tests', 'harness.mjs'));
const { apiCall, axeAudit, launchBrowser, newIdentity, newPage, setPolicy, startStack } = harness;
createRequire(join(HERE, '..', 'web', 'package.json')); // fail early if web deps are missing

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kB = (n) => `${(n / 1024).toFixed(1)} kB`;

async function coldLoad(browser, url) {
  const page = await newPage(browser);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const requests = new Map();
  cdp.on('Network.responseReceived', (e) => requests.set(e.requestId, { url: e.response.url, type: e.type, bytes: 0, body: 0 }));
  cdp.on('Network.loadingFinished', (e) => { const r = requests.get(e.requestId); if (r) r.bytes = e.encodedDataLength; });
  cdp.on('Network.dataReceived', (e) => { const r = requests.get(e.requestId); if (r) r.body += e.dataLength; });
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#site:enabled', { timeout: 30000 });
  const interactive = Date.now() - t0;
  await page.waitForLoadState('load');
  await page.waitForLoadState('networkidle');
  const nav = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd };
  });
  const list = [...requests.values()].filter((r) => !r.url.startsWith('data:'));
  await page.context().close();
  return { interactive, dcl: nav.dcl, load: nav.load, list };
}

async function auditScreens(browser, stack) {
  const counts = {};
  const record = async (page, screen) => {
    const v = await axeAudit(page);
    const by = (impact) => v.filter((x) => x.impact === impact).length;
    counts[screen] = { critical: by('critical'), serious: by('serious'), moderate: by('moderate'), minor: by('minor') };
  };
  const { data } = await apiCall(stack.api, 'GET', '/sites');
  const site = data.sites.find((s) => s.procedures.some((p) => p.allocation !== 'draw'));
  const proc = site.procedures.find((p) => p.allocation !== 'draw');
  await setPolicy(stack.api, site.site_id, proc.procedure_id, { max_holds_per_ip_per_hour: 10000 }).catch(() => {});
  await setPolicy(stack.api, site.site_id, proc.procedure_id, { identity_check: 'none' }).catch(() => {}); // no code step here (R10)
  const page = await newPage(browser);
  await page.goto(stack.web);
  await page.waitForSelector('#site:enabled');
  await record(page, 'home');
  await page.selectOption('#site', site.site_id);
  await page.selectOption('#procedure', proc.procedure_id);
  await page.click('#site-continue');
  await page.waitForSelector('.slot-btn');
  await record(page, 'slots');
  await page.locator('.slot-btn').first().click();
  await page.waitForSelector('form[data-form="identity"]');
  await record(page, 'identity');
  await page.click('#identity-submit');
  await page.waitForSelector('#error-summary');
  await record(page, 'identity-errors');
  const who = newIdentity();
  await page.fill('#f-applicant-document-number', who.document.number);
  await page.fill('#f-applicant-birth_date', who.birth_date);
  await page.fill('#f-applicant-family_name', who.family_name);
  await page.fill('#f-applicant-given_names', who.given_names);
  await page.fill('#f-applicant-email', who.email);
  await page.click('#identity-submit');
  await page.waitForSelector('#countdown');
  await record(page, 'hold');
  await page.click('#confirm');
  await page.waitForFunction(() => document.getElementById('reference')?.textContent.trim());
  await record(page, 'booking');
  await page.click('#open-cancel');
  await page.waitForSelector('#cancel-panel');
  await record(page, 'cancel');
  await page.click('#lang-switch');
  await record(page, 'cancel-en');
  await page.context().close();
  return counts;
}

const stack = await startStack();
const browser = await launchBrowser();
try {
  const loads = [];
  for (let i = 0; i < runs; i += 1) loads.push(await coldLoad(browser, stack.web));
  const last = loads[loads.length - 1];
  const total = (l) => l.list.reduce((s, r) => s + r.bytes, 0);
  const isApi = (r) => r.url.startsWith(stack.api);
  console.log(`fairslot web app — first load (cold cache, ${runs} runs, ${stack.kind} stack, 390x844 viewport)`);
  console.log(`  transferred      ${kB(median(loads.map(total)))} in ${last.list.length} responses (median)`);
  console.log(`    app + DSFR     ${kB(median(loads.map((l) => l.list.filter((r) => !isApi(r)).reduce((s, r) => s + r.bytes, 0))))}`);
  console.log(`    API (/sites)   ${kB(median(loads.map((l) => l.list.filter(isApi).reduce((s, r) => s + r.bytes, 0))))}`);
  console.log(`  DOMContentLoaded ${Math.round(median(loads.map((l) => l.dcl)))} ms`);
  console.log(`  load event       ${Math.round(median(loads.map((l) => l.load)))} ms`);
  console.log(`  interactive      ${median(loads.map((l) => l.interactive))} ms (site selector enabled, /sites fetched)`);
  console.log('  responses (last run):');
  for (const r of last.list.sort((a, b) => b.bytes - a.bytes)) {
    console.log(`    ${String(r.bytes).padStart(7)} B  ${r.type.padEnd(10)} ${r.url.replace(/^https?:\/\/[^/]+/, '')}`);
  }
  const counts = await auditScreens(browser, stack);
  console.log('axe-core violations per screen (wcag2a/aa, wcag21a/aa, best-practice)');
  console.log(`  ${'screen'.padEnd(16)} critical serious moderate minor`);
  for (const [screen, c] of Object.entries(counts)) {
    console.log(`  ${screen.padEnd(16)} ${String(c.critical).padStart(8)} ${String(c.serious).padStart(7)} ${String(c.moderate).padStart(8)} ${String(c.minor).padStart(5)}`);
  }
} finally {
  await browser.close();
  await stack.stop();
}
