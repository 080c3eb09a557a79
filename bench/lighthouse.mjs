// Lighthouse (npm `lighthouse`, on Debian's Chromium) on the applicants' web app: the home, booking,
// standby and find pages, mobile and desktop, against the local stack started here on free ports
// (as the web tests do). Prints one table: the four category scores, CLS, LCP and TBT. Asserts nothing.
//   node bench/lighthouse.mjs [--runs 1]      (needs web/node_modules: cd web && npm ci)
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const WEB = join(HERE, '..', 'web');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 1;
const require = createRequire(join(WEB, 'package.json'));
const lighthouse = (await import(pathToFileURL(require.resolve('lighthouse')).href)).default;
const desktopConfig = (await import(pathToFileURL(join(dirname(require.resolve('lighthouse/package.json')), 'core', 'config', 'desktop-config.js')).href)).default;
const chromeLauncher = await import(pathToFileURL(require.resolve('chrome-launcher')).href);
const { apiCall, newIdentity, setPolicy, staffToken, startStack } = await import(join(WEB, 'tests', 'harness.mjs'));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A booking made through the API, opened as its e-mail's link would open it. */
async function bookingUrl(stack) {
  const { data } = await apiCall(stack.api, 'GET', '/sites');
  const site = data.sites.find((s) => s.procedures.some((p) => p.allocation !== 'draw'));
  const proc = site.procedures.find((p) => p.allocation !== 'draw');
  await setPolicy(stack.api, site.site_id, proc.procedure_id, { max_holds_per_ip_per_hour: 10000, identity_check: 'none' }).catch(
    () => setPolicy(stack.api, site.site_id, proc.procedure_id, { max_holds_per_ip_per_hour: 10000 }));
  const from = new Date().toISOString();
  const slots = await apiCall(stack.api, 'GET', `/sites/${site.site_id}/slots?procedure=${proc.procedure_id}&from=${encodeURIComponent(from)}&limit=20`);
  for (const slot of slots.data.slots) {
    const hold = await apiCall(stack.api, 'POST', '/holds', { body: { slot_id: slot.slot_id, applicant: newIdentity() } });
    if (hold.status !== 201) continue;
    const b = await apiCall(stack.api, 'POST', '/bookings', { body: { hold_id: hold.data.hold_id, hold_token: hold.data.hold_token } });
    return `${stack.web}#/booking/${encodeURIComponent(b.data.booking_id)}/${b.data.booking_token}`;
  }
  throw new Error('no slot could be held');
}

/** A site without any slot: its search ends on the standby screen (auto allocation). */
async function standbyUrl(stack) {
  const siteId = `lh-standby-${Date.now()}`;
  await apiCall(stack.api, 'POST', '/staff/sites', {
    headers: { Authorization: `Bearer ${staffToken()}` },
    body: { site_id: siteId, name: 'Sous-préfecture sans créneau', address: '1 rue de la Paix, 34000 Montpellier', timezone: 'Europe/Paris',
      procedures: [{ procedure_id: 'renewal', name: 'Renouvellement de titre de séjour' }] },
  });
  return `${stack.web}#/standby?site=${siteId}&procedure=renewal`;
}

async function audit(port, url, desktop) {
  const flags = { port, output: 'json', logLevel: 'error', onlyCategories: ['performance', 'accessibility', 'best-practices', 'seo'] };
  const result = await lighthouse(url, flags, desktop ? desktopConfig : undefined);
  const { categories: c, audits: a } = result.lhr;
  return {
    perf: c.performance.score * 100, a11y: c.accessibility.score * 100, bp: c['best-practices'].score * 100, seo: c.seo.score * 100,
    cls: a['cumulative-layout-shift'].numericValue, lcp: a['largest-contentful-paint'].numericValue, tbt: a['total-blocking-time'].numericValue,
    failed: Object.values(a).filter((x) => x.score !== null && x.score < 1 && x.scoreDisplayMode === 'binary').map((x) => x.id),
  };
}

const stack = await startStack();
let chrome = null;
try {
  chrome = await chromeLauncher.launch({
    chromePath: process.env.CHROMIUM || '/usr/bin/chromium',
    chromeFlags: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const pages = [['home', `${stack.web}#/`], ['booking', await bookingUrl(stack)], ['standby', await standbyUrl(stack)], ['find', `${stack.web}#/find`]];
  console.log(`fairslot web app — Lighthouse ${require('lighthouse/package.json').version}, ${runs} run(s) each (median), Debian's Chromium, local stack`);
  console.log(`  ${'page'.padEnd(8)} ${'form'.padEnd(7)} perf a11y   bp  seo     CLS   LCP ms  TBT ms  binary audits failed`);
  for (const [name, url] of pages) {
    for (const desktop of [false, true]) {
      const results = [];
      for (let i = 0; i < runs; i += 1) results.push(await audit(chrome.port, url, desktop));
      const m = (k) => median(results.map((r) => r[k]));
      console.log(`  ${name.padEnd(8)} ${(desktop ? 'desktop' : 'mobile').padEnd(7)} ${String(Math.round(m('perf'))).padStart(4)} ${String(Math.round(m('a11y'))).padStart(4)} `
        + `${String(Math.round(m('bp'))).padStart(4)} ${String(Math.round(m('seo'))).padStart(4)}  ${m('cls').toFixed(3).padStart(6)} ${String(Math.round(m('lcp'))).padStart(8)} `
        + `${String(Math.round(m('tbt'))).padStart(7)}  ${results[results.length - 1].failed.join(' ') || '-'}`);
    }
  }
} finally {
  if (chrome) await chrome.kill();
  await stack.stop();
}
