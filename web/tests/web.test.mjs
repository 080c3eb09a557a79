// The applicants' web app in a real browser against the local stack: booking, cancellation,
// validation, expiry, a slot taken meanwhile, the language switch, draw mode, and axe audits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  REPO, apiCall, axeAudit, launchBrowser, linkFromOutbox, newIdentity, newPage, screenshot, serious, setPolicy, staffToken,
  startStack,
} from './harness.mjs';

let stack;
let browser;
let target; // { siteId, procedureId } of a first-come procedure
const audits = {};

async function audit(page, screen) {
  const violations = await axeAudit(page);
  audits[screen] = violations;
  assert.deepEqual(serious(violations), [], `${screen}: serious or critical axe violations`);
}

/** New screens (issue 13): no axe violation at all, of any impact. */
async function auditNone(page, screen) {
  const violations = await axeAudit(page);
  audits[screen] = violations;
  assert.deepEqual(violations, [], `${screen}: axe violations`);
}

/** A screenshot for docs/web.md: in test-artifacts/, and in docs/img/ when FAIRSLOT_DOC_SCREENSHOTS=1
 * (so that an ordinary test run leaves the repository's pictures alone). */
async function docShot(page, name) {
  await screenshot(page, name);
  if (process.env.FAIRSLOT_DOC_SCREENSHOTS === '1') await page.screenshot({ path: join(REPO, 'docs', 'img', `${name}.png`), fullPage: true });
}

/** A booking made straight through the API (hold + confirm), for tests about other screens. */
async function bookThroughApi(who = newIdentity()) {
  const { data } = await apiCall(stack.api, 'GET', `/sites/${target.siteId}/slots?procedure=${target.procedureId}&limit=20`);
  for (const slot of data.slots) {
    const hold = await apiCall(stack.api, 'POST', '/holds', { body: { slot_id: slot.slot_id, applicant: who } });
    if (hold.status !== 201) continue;
    const booking = await apiCall(stack.api, 'POST', '/bookings', { body: { hold_id: hold.data.hold_id, hold_token: hold.data.hold_token } });
    assert.equal(booking.status, 201, JSON.stringify(booking.data));
    return { who, booking: booking.data };
  }
  throw new Error('no slot could be held');
}

/** Opens `url` with the API answering /sites and the item (`itemPath`) in the given order. */
async function openInOrder(page, url, itemPath, first) {
  await page.unroute('**/*');
  const delay = (ms) => new Promise((r) => setTimeout(r, ms));
  await page.route((u) => u.pathname === '/sites' || u.pathname === itemPath, async (route) => {
    const isSites = new URL(route.request().url()).pathname === '/sites';
    if (route.request().method() === 'GET' && (first === 'item' ? isSites : !isSites)) await delay(700);
    return route.continue();
  });
  await page.goto(url);
}

/** identity_check `none` where the API knows the field (R10); a no-op on an API without it. */
async function uncheckIdentities(siteId, procedureId) {
  await setPolicy(stack.api, siteId, procedureId, { identity_check: 'none' }).catch(() => {});
}

async function open(page, path = '') {
  await page.goto(stack.web + path);
  await page.waitForSelector('#site:enabled', { timeout: 15000 });
}

async function chooseProcedure(page, { siteId, procedureId } = target) {
  await page.selectOption('#site', siteId);
  await page.selectOption('#procedure', procedureId);
  await page.click('#site-continue');
}

async function firstSlot(page) {
  await page.waitForSelector('.slot-btn', { timeout: 15000 });
  const button = page.locator('.slot-btn').first();
  const slotId = await button.getAttribute('data-slot');
  await button.click();
  await page.waitForSelector('form[data-form="identity"]');
  return slotId;
}

/** A date typed as a person would in the three fields: "12", "4", "1990" (no leading zero). */
async function fillDate(page, id, iso) {
  const [y, m, d] = iso.split('-');
  await page.fill(`#${id}`, String(Number(d)));
  await page.fill(`#${id}-month`, String(Number(m)));
  await page.fill(`#${id}-year`, y);
}

async function fillIdentity(page, who) {
  await page.check(`#doctype-${who.document.type}`);
  await page.fill('#f-applicant-document-number', who.document.number);
  await fillDate(page, 'f-applicant-birth_date', who.birth_date);
  await page.fill('#f-applicant-family_name', who.family_name);
  await page.fill('#f-applicant-given_names', who.given_names);
  await page.fill('#f-applicant-email', who.email);
  if (who.phone) await page.fill('#f-applicant-phone', who.phone);
}

async function holdThroughUi(page, who = newIdentity()) {
  await open(page);
  await chooseProcedure(page);
  const slotId = await firstSlot(page);
  await fillIdentity(page, who);
  await page.click('#identity-submit');
  await page.waitForSelector('#countdown, #page-alert', { timeout: 15000 });
  return { who, slotId };
}

async function bookThroughUi(page, who = newIdentity()) {
  const held = await holdThroughUi(page, who);
  await page.click('#confirm');
  await page.waitForFunction(() => document.getElementById('reference')?.textContent.trim(), null, { timeout: 15000 });
  return held;
}

function savedBookings(page) {
  return page.evaluate(() => Object.values(JSON.parse(localStorage.getItem('fairslot.v1') || '{}').bookings || {}));
}

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  const { data } = await apiCall(stack.api, 'GET', '/sites');
  const site = data.sites.find((s) => s.procedures.some((p) => p.allocation !== 'draw'));
  const procedure = site.procedures.find((p) => p.procedure_id === 'renewal' && p.allocation !== 'draw')
    || site.procedures.find((p) => p.allocation !== 'draw');
  target = { siteId: site.site_id, procedureId: procedure.procedure_id };
  // Every test holds from 127.0.0.1: lift the per-IP hourly limit (R8) for the procedure under test.
  await setPolicy(stack.api, target.siteId, target.procedureId, { max_holds_per_ip_per_hour: 10000 });
  // These tests hold without the one-time code (flow.test.mjs has the code step), on APIs that check identities.
  await uncheckIdentities(target.siteId, target.procedureId);
  console.log(`# web tests against the local stack at ${stack.api}`);
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
  console.log(`# axe violations per screen: ${JSON.stringify(Object.fromEntries(Object.entries(audits).map(([k, v]) => [k, v.length])))}`);
});

describe('applicants web app', () => {
  test('serve.py serves the app with the right types, no caching of HTML, and nothing else', async () => {
    const origin = new URL(stack.web).origin;
    const home = await fetch(`${origin}/`);
    assert.equal(home.status, 200);
    assert.match(home.headers.get('content-type'), /^text\/html/);
    assert.equal(home.headers.get('cache-control'), 'no-store');
    assert.match(home.headers.get('content-security-policy'), /script-src 'self'/);
    assert.match((await fetch(`${origin}/src/app.js`)).headers.get('content-type'), /^text\/javascript/);
    assert.equal((await fetch(`${origin}/vendor/dsfr/fonts/Marianne-Regular.woff2`)).headers.get('content-type'), 'font/woff2');
    for (const hidden of ['/package.json', '/serve.py', '/tests/harness.mjs', '/node_modules/axe-core/axe.min.js', '/%2e%2e/Makefile']) {
      assert.equal((await fetch(origin + hidden)).status, 404, hidden);
    }
  });

  test('the home screen lists the sites and passes an axe audit', async () => {
    const page = await newPage(browser);
    await open(page);
    assert.ok(await page.locator('#site option:not([disabled])').count() >= 1);
    assert.equal(await page.getAttribute('html', 'lang'), 'fr');
    await audit(page, 'home');
    await screenshot(page, 'home');
    await page.context().close();
  });

  test('an applicant books a slot end to end, and the booking survives a reload', async () => {
    const page = await newPage(browser);
    await open(page);
    await chooseProcedure(page);
    await page.waitForSelector('.slot-btn');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'view-title', 'focus moves to the new step');
    await audit(page, 'slots');
    await screenshot(page, 'slots');

    await page.locator('.slot-btn').first().click();
    await page.waitForSelector('form[data-form="identity"]');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'view-title');
    await audit(page, 'identity');
    await screenshot(page, 'identity');

    const who = newIdentity({ phone: '+33 6 12 34 56 78' });
    await fillIdentity(page, who);
    await page.click('#identity-submit');
    await page.waitForSelector('#countdown');
    const clock = await page.textContent('#countdown');
    assert.match(clock, /^\d{2}:\d{2}$/);
    assert.ok(clock > '00:00', `countdown shows time left (${clock})`);
    await audit(page, 'hold');
    await screenshot(page, 'hold');

    await page.click('#confirm');
    await page.waitForFunction(() => document.getElementById('reference')?.textContent.trim());
    const reference = (await page.textContent('#reference')).trim();
    assert.match(page.url(), /#\/booking\//);
    await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
    assert.match(await page.textContent('.convocation'), /MARTIN Amina/, 'the convocation names the applicant');
    await audit(page, 'booking');
    await screenshot(page, 'booking');
    await page.setViewportSize({ width: 1280, height: 900 });
    await screenshot(page, 'booking-desktop');

    const [saved] = await savedBookings(page);
    assert.ok(saved.booking_token, 'the booking token is kept on the device');
    const server = await apiCall(stack.api, 'GET', `/bookings/${saved.booking_id}`, { headers: { 'X-Booking-Token': saved.booking_token } });
    assert.equal(server.status, 200);
    assert.equal(server.data.reference, reference);

    await page.reload();
    await page.waitForFunction(() => document.getElementById('reference')?.textContent.trim());
    assert.equal((await page.textContent('#reference')).trim(), reference);

    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.isVisible('header.fr-header'), false, 'the convocation prints without the site chrome');
    assert.equal(await page.isVisible('#open-cancel'), false);
    assert.equal(await page.isVisible('#reference'), true);
    await screenshot(page, 'convocation-print');
    await page.context().close();
  });

  test('cancelling warns about the cooldown, cancels, and the same identity then waits (429)', async () => {
    const page = await newPage(browser);
    const { who } = await bookThroughUi(page);
    await page.click('#open-cancel');
    await page.waitForSelector('#cancel-panel');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'cancel-title');
    assert.match(await page.textContent('#cancel-warning'), /délai d’attente/);
    assert.match(await page.textContent('#cancel-warning'), /ne sera pas remis en ligne immédiatement/);
    await audit(page, 'cancel');
    await screenshot(page, 'cancel');
    await page.click('#cancel-confirm');
    await page.waitForSelector('#page-alert');
    assert.match(await page.textContent('#page-alert'), /annulé/);
    assert.match(await page.textContent('#status'), /Annulé/);
    const [saved] = await savedBookings(page);
    const server = await apiCall(stack.api, 'GET', `/bookings/${saved.booking_id}`, { headers: { 'X-Booking-Token': saved.booking_token } });
    assert.equal(server.data.status, 'cancelled');

    // R4: the identity that cancelled cannot hold again for a while; the wait is shown humanely.
    await holdThroughUi(page, who);
    const alert = await page.textContent('#page-alert');
    assert.match(alert, /Vous pourrez réessayer dans \d+\s(jour|heure|minute)/, alert);
    await audit(page, 'cooldown');
    await screenshot(page, 'cooldown');
    await page.context().close();
  });

  test('field errors are shown inline, summarised and focused; the API 422 lands on the same field', async () => {
    const page = await newPage(browser);
    await open(page);
    await chooseProcedure(page);
    await firstSlot(page);
    const who = newIdentity();
    await fillIdentity(page, { ...who, document: { type: 'agdref', number: '123456789' }, email: 'not-an-email' });
    await page.click('#identity-submit');
    await page.waitForSelector('#error-summary');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'error-summary');
    assert.equal(await page.locator('#error-summary li').count(), 2);
    assert.equal(await page.getAttribute('#f-applicant-document-number', 'aria-invalid'), 'true');
    assert.match(await page.textContent('#f-applicant-document-number-messages'), /10 chiffres/);
    assert.match(await page.textContent('#f-applicant-email-messages'), /adresse électronique valide/);
    await audit(page, 'identity-errors');
    await screenshot(page, 'identity-errors');

    // A value the browser accepts but the API refuses: its 422 details.field names the input.
    await page.fill('#f-applicant-document-number', who.document.number);
    await page.fill('#f-applicant-email', who.email);
    await page.route(`${stack.api}/holds`, async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const body = JSON.parse(route.request().postData());
      body.applicant.document.number = '12AB';
      return route.continue({ postData: JSON.stringify(body) });
    });
    await page.click('#identity-submit');
    await page.waitForFunction(() => document.getElementById('error-summary')?.textContent.includes('Numéro du document'));
    assert.equal(await page.getAttribute('#f-applicant-document-number', 'aria-invalid'), 'true');
    assert.equal(await page.locator('#error-summary li').count(), 1);
    await page.context().close();
  });

  test('a hold that runs out says so, says when booking is possible again, and offers no slot', async () => {
    await setPolicy(stack.api, target.siteId, target.procedureId, { hold_ttl_seconds: 3 });
    const page = await newPage(browser);
    try {
      await holdThroughUi(page);
      await page.waitForSelector('#hold-expired', { timeout: 15000 });
      assert.match(await page.textContent('#hold-expired'), /Délai dépassé/);
      assert.equal(await page.locator('#confirm').count(), 0, 'no confirm button once expired');
      assert.match(await page.textContent('#blocked-until'), /Vous pourrez réserver à nouveau à partir du/);
      assert.equal(await page.locator('.slot-btn').count(), 0);
      assert.equal(await page.evaluate(() => document.activeElement.id), 'hold-expired');
      await audit(page, 'hold-expired');
      await screenshot(page, 'hold-expired');
    } finally {
      await setPolicy(stack.api, target.siteId, target.procedureId, { hold_ttl_seconds: 600 });
      await page.context().close();
    }
  });

  test('giving up a held slot releases it and says when booking is possible again, offering no slot', async () => {
    const page = await newPage(browser);
    const { slotId } = await holdThroughUi(page);
    await page.click('[data-action="release-hold"]');
    await page.waitForFunction(() => document.getElementById('page-alert')?.textContent.includes('libéré'));
    assert.match(await page.textContent('#page-alert'), /délai d’attente/);
    assert.match(await page.textContent('#page-alert'), /à partir du/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'page-alert');
    assert.equal(await page.locator('.slot-btn').count(), 0, 'the home page, no slot offered');
    await page.click('#site-continue');
    await page.waitForSelector('.slot-btn');
    assert.equal(await page.locator(`.slot-btn[data-slot="${slotId}"]`).count(), 0, 'a released slot is not offered again at once (R3)');
    await page.context().close();
  });

  test('a slot taken by someone else meanwhile sends the applicant back to the list, details kept', async () => {
    const page = await newPage(browser);
    await open(page);
    await chooseProcedure(page);
    const slotId = await firstSlot(page);
    const who = newIdentity();
    await fillIdentity(page, who);
    const rival = await apiCall(stack.api, 'POST', '/holds', { body: { slot_id: slotId, applicant: newIdentity() } });
    assert.equal(rival.status, 201, JSON.stringify(rival.data));
    await page.click('#identity-submit');
    await page.waitForFunction(() => document.getElementById('page-alert')?.textContent.includes('pris par quelqu’un d’autre'));
    await page.waitForSelector('.slot-btn');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'page-alert');
    assert.equal(await page.locator(`.slot-btn[data-slot="${slotId}"]`).count(), 0, 'the taken slot is no longer listed');
    await audit(page, 'slot-taken');
    await screenshot(page, 'slot-taken');
    await page.locator('.slot-btn').first().click();
    assert.equal(await page.inputValue('#f-applicant-document-number'), who.document.number, 'typed details are kept');
    await page.context().close();
  });

  test('the language switch translates the app and is remembered', async () => {
    const page = await newPage(browser);
    await open(page);
    assert.match(await page.textContent('#view-title'), /Choisir le lieu/);
    await page.click('#lang-switch');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.match(await page.textContent('#view-title'), /Choose the place and procedure/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'lang-switch', 'focus stays on the switch');
    await page.reload();
    await page.waitForSelector('#site:enabled');
    assert.match(await page.textContent('#view-title'), /Choose the place/);
    assert.match(await page.textContent('footer'), /Appointments are not for sale/);
    await audit(page, 'home-en');
    await screenshot(page, 'home-en');
    await chooseProcedure(page);
    await page.waitForSelector('.slot-btn');
    assert.match(await page.textContent('#slots-legend'), /Available slots on/);
    await page.click('#lang-switch');
    assert.match(await page.textContent('#slots-legend'), /Créneaux disponibles le/);
    await page.context().close();
  });

  test('every API error status has its own plain message, in both languages', async () => {
    const page = await newPage(browser);
    await open(page);
    const result = await page.evaluate(async () => {
      const { ApiError, errorMessage } = await import('/src/api.js');
      const i18n = await import('/src/i18n.js');
      const { formatDuration } = await import('/src/format.js');
      const err = (status, code = '', retry = null) => new ApiError(status, { error: { code, message: 'x', details: {} } }, retry);
      const cases = [[0], [400, 'malformed_request'], [401, 'unauthorized'], [403, 'forbidden'],
        [404, 'booking_not_found'], [409, 'slot_unavailable'], [409, 'hold_already_active'], [409, 'state_changed'],
        [410, 'hold_expired'], [422, 'invalid_field'], [429, 'cooldown', 86340], [429, 'rate_limited'], [429, 'rate_limited', 120], [429, 'partner_quota_exceeded', 120], [503, 'storage_unavailable', 5], [500]];
      const out = {};
      for (const lang of ['fr', 'en']) {
        i18n.setLang(lang);
        out[lang] = cases.map(([status, code, retry]) => errorMessage(err(status, code, retry)));
        out[`${lang}-durations`] = [45, 61, 3725, 86340, 90000].map(formatDuration);
        out[`${lang}-unknownCode`] = errorMessage(err(409, 'a_code_the_api_does_not_send')) === i18n.t('api.409');
      }
      i18n.setLang('fr');
      const keys = (d) => Object.keys(d).sort().join(',');
      out.sameKeys = keys(i18n.DICTIONARIES.fr) === keys(i18n.DICTIONARIES.en);
      return out;
    });
    assert.ok(result.sameKeys, 'French and English dictionaries have the same keys');
    for (const lang of ['fr', 'en']) {
      const messages = result[lang];
      assert.equal(new Set(messages).size, messages.length, `${lang}: one message per case\n${messages.join('\n')}`);
      assert.ok(messages.every((m) => m && !m.includes('{')), `${lang}: no unfilled placeholder`);
    }
    assert.ok(result['fr-unknownCode'] && result['en-unknownCode'], 'a code the catalogue lacks falls back to its status');
    assert.match(result.fr[10], /23\sheures et 59\sminutes/);
    assert.match(result.en[10], /23 hours and 59 minutes/);
    assert.match(result.fr[14], /5\ssecondes/);
    assert.deepEqual(result['en-durations'], ['45 seconds', '1 minute and 1 second', '1 hour and 3 minutes', '23 hours and 59 minutes', '1 day and 1 hour']);
    await page.context().close();
  });

  test('a busy service (503) says when to retry, and retrying works', async () => {
    const page = await newPage(browser);
    await page.route(`${stack.api}/sites`, (route) => route.fulfill({
      status: 503, contentType: 'application/json',
      headers: { 'Retry-After': '5', 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'Retry-After' },
      body: JSON.stringify({ error: { code: 'storage_unavailable', message: 'busy', details: {} } }),
    }));
    await page.goto(stack.web);
    await page.waitForSelector('[data-action="reload-sites"]');
    assert.match(await page.textContent('#app [role="alert"]'), /Réessayez dans 5\ssecondes/);
    await page.unroute(`${stack.api}/sites`);
    await page.click('[data-action="reload-sites"]');
    await page.waitForSelector('#site:enabled');
    await page.context().close();
  });

  test('the browser Back button goes one step back, keeping the choices', async () => {
    const page = await newPage(browser);
    await open(page);
    await chooseProcedure(page);
    await firstSlot(page);
    await page.goBack();
    await page.waitForSelector('.slot-btn');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'view-title');
    await page.goBack();
    await page.waitForSelector('#site-continue');
    assert.equal(await page.inputValue('#site'), target.siteId);
    assert.equal(await page.inputValue('#procedure'), target.procedureId);
    await page.goForward();
    await page.waitForSelector('.slot-btn');
    await page.context().close();
  });

  test('keyboard alone completes the first step', async () => {
    const page = await newPage(browser);
    await open(page);
    await page.keyboard.press('Tab'); // skip link
    assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'Aller au contenu');
    await page.focus('#site');
    await page.selectOption('#site', target.siteId);
    await page.focus('#procedure');
    await page.selectOption('#procedure', target.procedureId);
    await page.focus('#site-continue');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.slot-btn');
    await page.focus('.slot-btn');
    await page.keyboard.press('Enter');
    await page.waitForSelector('form[data-form="identity"]');
    await page.context().close();
  });

  test('draw mode: a request for one day, the offer e-mail\'s link opens the offer elsewhere and confirms it', async (t) => {
    const probe = await apiCall(stack.api, 'POST', '/requests', { body: {} });
    if (![400, 422].includes(probe.status)) { t.skip(`POST /requests answers ${probe.status}: draw API not available`); return; }
    const sites = (await apiCall(stack.api, 'GET', '/sites')).data.sites;
    let drawTarget = null;
    for (const s of sites) for (const p of s.procedures) if (!drawTarget && p.allocation === 'draw') drawTarget = { siteId: s.site_id, procedureId: p.procedure_id };
    let restore = null;
    if (!drawTarget) {
      const s = sites[sites.length - 1];
      const p = s.procedures[s.procedures.length - 1];
      drawTarget = { siteId: s.site_id, procedureId: p.procedure_id };
      restore = { allocation: 'fcfs' };
    }
    // One day with free slots (looked up while the procedure is searchable), in the site's zone.
    await setPolicy(stack.api, drawTarget.siteId, drawTarget.procedureId, { allocation: 'fcfs' });
    // (Two days ahead: a slot must leave the offer its whole offer_ttl_seconds to be drawn.)
    const ahead = encodeURIComponent(new Date(Date.now() + 2 * 86400000).toISOString());
    const free = await apiCall(stack.api, 'GET', `/sites/${drawTarget.siteId}/slots?procedure=${drawTarget.procedureId}&from=${ahead}&limit=1`);
    await setPolicy(stack.api, drawTarget.siteId, drawTarget.procedureId, { allocation: 'draw' });
    await uncheckIdentities(drawTarget.siteId, drawTarget.procedureId);
    const localDay = (instant) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(instant));
    const day = localDay(free.data.slots[0].starts_at);
    const page = await newPage(browser);
    try {
      await open(page);
      await chooseProcedure(page, drawTarget);
      await page.waitForSelector('form[data-form="range"]');
      await fillDate(page, 'f-from', day);
      await fillDate(page, 'f-to', day);
      await audit(page, 'draw-range');
      await page.click('form[data-form="range"] button[type="submit"]');
      await page.waitForSelector('form[data-form="identity"]');
      await fillIdentity(page, newIdentity());
      await page.click('#identity-submit');
      await page.waitForSelector('#status', { timeout: 15000 });
      assert.match(page.url(), /#\/request\//);
      await audit(page, 'draw-request');
      await screenshot(page, 'draw-request');
      // The range end to end: the request the API stored is that one day, first and last.
      const saved = await page.evaluate(() => Object.values(JSON.parse(localStorage.getItem('fairslot.v1')).requests)[0]);
      const stored = await apiCall(stack.api, 'GET', `/requests/${saved.request_id}`, { headers: { 'X-Request-Token': saved.request_token } });
      assert.deepEqual([stored.data.from, stored.data.to], [day, day]);
      await linkFromOutbox(stack.outbox, `${saved.request_id}-request.eml`); // the acknowledgement, with its link
      // The request page renders once the request and the site are both known, whatever comes first.
      for (const first of ['item', 'sites']) {
        await openInOrder(page, `${stack.web}#/request/${saved.request_id}`, `/requests/${saved.request_id}`, first);
        await page.waitForSelector('#status', { timeout: 15000 });
        assert.match(await page.textContent('.recap'), new RegExp(drawTarget.siteId === 'herault-beziers' ? 'Béziers' : '.'));
      }
      await page.unroute('**/*');
      const draw = await apiCall(stack.api, 'POST', `/staff/sites/${drawTarget.siteId}/procedures/${drawTarget.procedureId}/draws`, {
        headers: { Authorization: `Bearer ${staffToken()}` }, body: { reason: 'test: the offer now' },
      });
      assert.equal(draw.status, 200, JSON.stringify(draw.data));
      const offered = await apiCall(stack.api, 'GET', `/requests/${saved.request_id}`, { headers: { 'X-Request-Token': saved.request_token } });
      assert.equal(offered.data.status, 'offered', JSON.stringify(draw.data));
      assert.equal(localDay(offered.data.hold.slot.starts_at), day, 'the offer is on the day asked for');
      const { link, text } = await linkFromOutbox(stack.outbox, `${offered.data.hold.hold_id}-offer.eml`);
      assert.match(text, /Le tirage au sort vous propose/);
      assert.match(text, /The draw offers you/);
      const fresh = await newPage(browser); // another device: nothing stored
      await fresh.goto(link);
      await fresh.waitForSelector('#confirm', { timeout: 15000 });
      // An offer's deadline is a time; a running clock only in its last hour.
      assert.match(await fresh.textContent('#countdown-deadline'), /À confirmer avant (le )?.*\d{2}:\d{2}/);
      if (Date.parse(offered.data.hold.expires_at) - Date.now() > 3600e3) assert.doesNotMatch(await fresh.textContent('#countdown'), /\d+:\d{2}:\d{2}/);
      await auditNone(fresh, 'offer-from-link');
      await docShot(fresh, 'offer-from-link');
      await fresh.click('#confirm');
      await fresh.waitForFunction(() => document.getElementById('reference')?.textContent.trim(), null, { timeout: 15000 });
      assert.match(await fresh.textContent('.recap'), /Numéro étranger \(AGDREF\)/, 'the document to bring, from the API');
      await fresh.context().close();
    } finally {
      if (restore) await setPolicy(stack.api, drawTarget.siteId, drawTarget.procedureId, restore);
      await page.context().close();
    }
  });

  test('an e-mail link opens the booking in a browser that never saw it, with print and cancel (issue 13)', async (t) => {
    const page = await newPage(browser);
    await bookThroughUi(page);
    const [saved] = await savedBookings(page);
    await page.context().close();
    const { link, text } = await linkFromOutbox(stack.outbox, `${saved.booking_id}-confirmation.eml`);
    assert.match(text, /Votre rendez-vous en ligne/);
    assert.match(text, /Your appointment online/);
    assert.ok(!link.split('#')[0].includes(saved.booking_token), 'no token before the fragment');
    const fresh = await newPage(browser); // a new context: no storage from the booking's browser
    await fresh.goto(link);
    await fresh.waitForFunction(() => document.getElementById('reference')?.textContent.trim(), null, { timeout: 15000 });
    assert.equal(await fresh.textContent('#reference'), saved.reference);
    assert.ok(!fresh.url().includes(link.split('/').pop()), 'the token leaves the address bar once kept');
    assert.match(await fresh.textContent('#from-link'), /enregistré sur cet appareil/);
    assert.match(await fresh.textContent('.recap'), /34 place des Martyrs|Boulevard Édouard Herriot/);
    assert.match(await fresh.textContent('.recap'), /Numéro étranger \(AGDREF\)/, 'the document to bring');
    assert.equal(await fresh.locator('[data-action="print"]').count(), 1);
    await auditNone(fresh, 'booking-from-link');
    await docShot(fresh, 'booking-from-link');
    await fresh.click('#open-cancel');
    await fresh.click('#cancel-confirm');
    await fresh.waitForFunction(() => document.getElementById('status')?.textContent.includes('Annulé'), null, { timeout: 15000 });
    await fresh.context().close();
    // A link whose token is not this booking's: an error, and the way to get a good link.
    const other = await newPage(browser);
    await other.goto(link.replace(/\/[A-Za-z0-9_-]+$/, `/${'A'.repeat(43)}`));
    await other.waitForSelector('#page-alert', { timeout: 15000 });
    assert.equal(await other.locator('#app a[href="#/find"]').count(), 1);
    assert.equal(await other.locator('#reference').count(), 0);
    await other.context().close();
  });

  test('find my booking: the same answer either way, the link goes to the e-mail on file (issue 13)', async (t) => {
    const { who, booking } = await bookThroughApi();
    const page = await newPage(browser);
    await open(page);
    await page.click('#find-link');
    await page.waitForSelector('form[data-form="find"]');
    await auditNone(page, 'find');
    await page.fill('#f-document-number', who.document.number);
    await fillDate(page, 'f-birth_date', who.birth_date);
    await page.fill('#f-email', who.email);
    await docShot(page, 'find-booking');
    // Validation first: an impossible birth date is named on its three fields.
    await fillDate(page, 'f-birth_date', '1990-02-30');
    await page.click('#find-submit');
    await page.waitForSelector('#error-summary');
    assert.equal(await page.getAttribute('#f-birth_date', 'aria-invalid'), 'true');
    await fillDate(page, 'f-birth_date', who.birth_date);
    await page.fill('#f-email', 'someone.else@example.org');
    await page.click('#find-submit');
    await page.waitForSelector('#find-sent');
    const answerForNobody = await page.textContent('#find-sent');
    await page.click('#find-sent ~ a[href="#/"]');
    await page.waitForSelector('#find-link');
    await page.click('#find-link');
    await page.waitForSelector('form[data-form="find"]');
    await page.fill('#f-document-number', who.document.number);
    await fillDate(page, 'f-birth_date', who.birth_date);
    await page.fill('#f-email', who.email);
    await page.click('#find-submit');
    await page.waitForSelector('#find-sent');
    assert.equal(await page.textContent('#find-sent'), answerForNobody, 'nothing tells whether it matched');
    await auditNone(page, 'find-sent');
    await page.context().close();
    const { link } = await linkFromOutbox(stack.outbox, `${booking.booking_id}-link.eml`);
    const fresh = await newPage(browser);
    await fresh.goto(link);
    await fresh.waitForFunction(() => document.getElementById('reference')?.textContent.trim(), null, { timeout: 15000 });
    assert.equal(await fresh.textContent('#reference'), booking.reference);
    await fresh.context().close();
  });

  test('birth date as day, month and year: validated, announced, sent as an ISO date (issue 13)', async (t) => {
    const page = await newPage(browser);
    await open(page);
    await chooseProcedure(page);
    await firstSlot(page);
    // Only the documents the procedure accepts are offered (GET /sites: accepted_documents).
    const sites = (await apiCall(stack.api, 'GET', '/sites')).data.sites;
    const accepted = sites.find((x) => x.site_id === target.siteId).procedures.find((x) => x.procedure_id === target.procedureId).accepted_documents;
    assert.deepEqual(await page.$$eval('input[name="docType"]', (els) => els.map((el) => el.value)), accepted);
    const who = newIdentity({ birth_date: '1990-04-12' });
    await fillIdentity(page, { ...who, birth_date: '1990-13-12' });
    await page.click('#identity-submit');
    await page.waitForSelector('#error-summary');
    assert.match(await page.textContent('#error-summary'), /Date de naissance/);
    assert.equal(await page.getAttribute('#f-applicant-birth_date', 'aria-invalid'), 'true');
    assert.equal(await page.getAttribute('#f-applicant-birth_date-month', 'aria-invalid'), 'true');
    assert.match(await page.textContent('#f-applicant-birth_date-messages'), /date de naissance/);
    assert.equal(await page.getAttribute('#f-applicant-birth_date-messages', 'aria-live'), 'polite');
    for (const [id, label] of [['f-applicant-birth_date', 'Jour'], ['f-applicant-birth_date-month', 'Mois'], ['f-applicant-birth_date-year', 'Année']]) {
      assert.match(await page.textContent(`label[for="${id}"]`), new RegExp(label));
    }
    await auditNone(page, 'birth-date-errors');
    await docShot(page, 'birth-date-fields');
    await page.click('#error-summary a');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'f-applicant-birth_date');
    let sent = null;
    await page.route(`${stack.api}/holds`, async (route) => {
      if (route.request().method() === 'POST') sent = JSON.parse(route.request().postData()).applicant.birth_date;
      return route.continue();
    });
    await fillDate(page, 'f-applicant-birth_date', '1990-04-12');
    await page.click('#identity-submit');
    await page.waitForSelector('#countdown', { timeout: 15000 });
    assert.equal(sent, '1990-04-12');
    await page.click('[data-action="release-hold"]');
    await page.context().close();
  });

  test('the booking page renders once both the booking and the site are known, in either order (issue 13)', async (t) => {
    const { booking } = await bookThroughApi();
    const page = await newPage(browser);
    await open(page);
    await page.evaluate((b) => {
      localStorage.setItem('fairslot.v1', JSON.stringify({ bookings: { [b.booking_id]: { booking_id: b.booking_id, booking_token: b.booking_token } } }));
    }, booking);
    const url = `${stack.web}#/booking/${booking.booking_id}`;
    for (const first of ['item', 'sites', 'item', 'sites']) {
      await openInOrder(page, url, `/bookings/${booking.booking_id}`, first);
      await page.waitForSelector('#reference', { timeout: 15000 });
      const recap = await page.textContent('.recap');
      assert.match(recap, /34 place des Martyrs|Béziers/, `${first} first: the address is there`);
      assert.match(recap, /Renouvellement|demande|Étudiants/, `${first} first: the procedure is there`);
      assert.equal(await page.locator('#page-loading').count(), 0);
    }
    await page.context().close();
  });

  test('words: plural forms, the real waiting period, English names, footer pages (issue 13)', async (t) => {
    await setPolicy(stack.api, target.siteId, target.procedureId, { cooldown_seconds: 7200 });
    const page = await newPage(browser);
    try {
      await open(page);
      await chooseProcedure(page);
      await page.waitForSelector('.slot-btn');
      const count = await page.textContent('#slots-count');
      assert.match(count, /^\d+ créneaux? affichés?\.$/, count);
      assert.doesNotMatch(count, /\(/);
      const plural = await page.evaluate(async () => {
        const i18n = await import('/src/i18n.js');
        const out = [];
        for (const lang of ['fr', 'en']) { i18n.setLang(lang); out.push(...[0, 1, 2].map((n) => i18n.tn('identity.summary', n))); }
        i18n.setLang('fr');
        return out;
      });
      assert.deepEqual(plural, ['Le formulaire contient 0 erreur :', 'Le formulaire contient 1 erreur :', 'Le formulaire contient 2 erreurs :',
        'The form has 0 errors:', 'The form has 1 error:', 'The form has 2 errors:']);
      const { booking } = await bookThroughApi();
      await page.evaluate((b) => {
        localStorage.setItem('fairslot.v1', JSON.stringify({ bookings: { [b.booking_id]: { booking_id: b.booking_id, booking_token: b.booking_token } } }));
      }, booking);
      await page.goto(`${stack.web}#/booking/${booking.booking_id}`);
      await page.waitForSelector('#open-cancel');
      await page.click('#open-cancel');
      assert.match(await page.textContent('#cancel-warning'), /pendant 2\s+heures/);
      await page.click('#lang-switch');
      assert.match(await page.textContent('#cancel-warning'), /for 2\s+hours/);
      assert.match(await page.textContent('.recap'), /Residence permit renewal|First residence permit application|Students and researchers/);
      await page.goto(`${stack.web}#/`);
      await page.waitForSelector('#site:enabled');
      assert.match(await page.textContent('#site'), /Hérault prefecture/);
      for (const [id, screen, expected] of [['footer-accessibility', 'accessibility', /RGAA/], ['footer-legal', 'legal', /Publisher/],
        ['footer-data', 'personal-data', /erased automatically 90 days after/]]) {
        await page.click(`#${id}`);
        await page.waitForFunction((re) => new RegExp(re).test(document.getElementById('app').textContent), expected.source, { timeout: 10000 });
        await auditNone(page, `${screen}-en`);
      }
      await page.click('#lang-switch');
      assert.match(await page.textContent('#app'), /effacées automatiquement 90 jours après/);
      await auditNone(page, 'personal-data');
      await docShot(page, 'personal-data');
    } finally {
      await setPolicy(stack.api, target.siteId, target.procedureId, { cooldown_seconds: 86400 });
      await page.context().close();
    }
  });

  test('auto allocation: a search that finds nothing offers the standby list, and joining it files a request (issue 10)', async (t) => {
    const siteId = `standby-${Date.now()}`;
    const created = await apiCall(stack.api, 'POST', '/staff/sites', {
      headers: { Authorization: `Bearer ${staffToken()}` },
      body: { site_id: siteId, name: 'Sous-préfecture sans créneau', address: '1 rue de la Paix, 34000 Montpellier', timezone: 'Europe/Paris',
        procedures: [{ procedure_id: 'renewal', name: 'Renouvellement de titre de séjour' }] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.data));
    if (created.data.procedures[0].allocation !== 'auto') { t.skip('no auto allocation on this API'); return; }
    await uncheckIdentities(siteId, 'renewal');
    const page = await newPage(browser);
    try {
      await open(page);
      await chooseProcedure(page, { siteId, procedureId: 'renewal' });
      await page.waitForSelector('#join-standby', { timeout: 20000 });
      assert.match(await page.textContent('#standby-offer'), /tirage au sort/);
      await auditNone(page, 'standby-offer');
      await page.click('#join-standby');
      await page.waitForSelector('form[data-form="range"]');
      const day = new Date(Date.now() + 3 * 86400000).toISOString().slice(0, 10);
      await fillDate(page, 'f-from', day);
      await fillDate(page, 'f-to', day);
      await page.click('form[data-form="range"] button[type="submit"]');
      await page.waitForSelector('form[data-form="identity"]');
      await fillIdentity(page, newIdentity());
      await page.click('#identity-submit');
      await page.waitForSelector('#status', { timeout: 15000 });
      const saved = await page.evaluate(() => Object.values(JSON.parse(localStorage.getItem('fairslot.v1')).requests).pop());
      const stored = await apiCall(stack.api, 'GET', `/requests/${saved.request_id}`, { headers: { 'X-Request-Token': saved.request_token } });
      assert.deepEqual([stored.data.status, stored.data.from, stored.data.to], ['waiting', day, day]);
      await auditNone(page, 'standby-request');
    } finally {
      await page.context().close();
    }
  });
});
