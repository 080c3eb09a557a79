// The applicants' web app in a real browser against the local stack: booking, cancellation,
// validation, expiry, a slot taken meanwhile, the language switch, draw mode, and axe audits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  apiCall, axeAudit, launchBrowser, newIdentity, newPage, screenshot, serious, setPolicy, startStack,
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

async function fillIdentity(page, who) {
  await page.check(`#doctype-${who.document.type}`);
  await page.fill('#f-applicant-document-number', who.document.number);
  await page.fill('#f-applicant-birth_date', who.birth_date);
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
  console.log(`# web tests against the ${stack.kind} stack at ${stack.api}`);
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

  test('a hold that runs out says so and offers another slot', async () => {
    await setPolicy(stack.api, target.siteId, target.procedureId, { hold_ttl_seconds: 3 });
    const page = await newPage(browser);
    try {
      await holdThroughUi(page);
      await page.waitForSelector('#hold-expired', { timeout: 15000 });
      assert.match(await page.textContent('#hold-expired'), /Délai dépassé/);
      assert.equal(await page.locator('#confirm').count(), 0, 'no confirm button once expired');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'hold-expired');
      await audit(page, 'hold-expired');
      await screenshot(page, 'hold-expired');
    } finally {
      await setPolicy(stack.api, target.siteId, target.procedureId, { hold_ttl_seconds: 600 });
      await page.context().close();
    }
  });

  test('giving up a held slot releases it and says a waiting period follows', async () => {
    const page = await newPage(browser);
    const { slotId } = await holdThroughUi(page);
    await page.click('[data-action="release-hold"]');
    await page.waitForFunction(() => document.getElementById('page-alert')?.textContent.includes('libéré'));
    assert.match(await page.textContent('#page-alert'), /délai d’attente/);
    await page.waitForSelector('.slot-btn');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'page-alert');
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
        [410, 'hold_expired'], [422, 'invalid_field'], [429, 'cooldown', 86340], [429, 'rate_limited'], [429, 'rate_limited', 120], [429, 'too_many_requests', 120], [503, 'storage_unavailable', 5], [500]];
      const out = {};
      for (const lang of ['fr', 'en']) {
        i18n.setLang(lang);
        out[lang] = cases.map(([status, code, retry]) => errorMessage(err(status, code, retry)));
        out[`${lang}-durations`] = [45, 61, 3725, 86340, 90000].map(formatDuration);
        out[`${lang}-badToken`] = errorMessage(err(403, 'bad_booking_token')) === errorMessage(err(401, 'unauthorized'));
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
    assert.ok(result['fr-badToken'] && result['en-badToken'], 'a wrong token reads like a bad link');
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

  test('draw mode: file a request, see its status, confirm an offer', async (t) => {
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
      await setPolicy(stack.api, drawTarget.siteId, drawTarget.procedureId, { allocation: 'draw' });
      restore = { allocation: 'fcfs' };
    }
    const page = await newPage(browser);
    try {
      await open(page);
      await chooseProcedure(page, drawTarget);
      await page.waitForSelector('form[data-form="range"]');
      const from = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
      const to = new Date(Date.now() + 14 * 86400000).toISOString().slice(0, 10);
      await page.fill('#f-from', from);
      await page.fill('#f-to', to);
      await audit(page, 'draw-range');
      await page.click('form[data-form="range"] button[type="submit"]');
      await page.waitForSelector('form[data-form="identity"]');
      await fillIdentity(page, newIdentity());
      await page.click('#identity-submit');
      await page.waitForSelector('#status', { timeout: 15000 });
      assert.match(page.url(), /#\/request\//);
      await audit(page, 'draw-request');
      await screenshot(page, 'draw-request');
      const draw = await apiCall(stack.api, 'POST', `/staff/sites/${drawTarget.siteId}/procedures/${drawTarget.procedureId}/draws`, {
        headers: { Authorization: `Bearer ${(await import('./harness.mjs')).staffToken()}` },
      });
      if (draw.status !== 200 || !draw.data.offered) { t.diagnostic(`draw run answered ${draw.status}; offer not tested`); return; }
      await page.click('[data-action="refresh-request"]');
      await page.waitForSelector('#confirm', { timeout: 15000 });
      await audit(page, 'draw-offer');
      await screenshot(page, 'draw-offer');
      await page.click('#confirm');
      await page.waitForFunction(() => document.getElementById('reference')?.textContent.trim(), null, { timeout: 15000 });
    } finally {
      if (restore) await setPolicy(stack.api, drawTarget.siteId, drawTarget.procedureId, restore);
      await page.context().close();
    }
  });
});
