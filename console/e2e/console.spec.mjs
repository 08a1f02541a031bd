// End-to-end test of the curator console in headless Chromium, run by ../e2e.sh against a
// live `mosaic serve`: sign in, pick an offer from the user's second feed page with the
// autocomplete, preview a boost on that user, publish it, and check through the API that
// the offer rose in the user's feed. Exits non-zero on the first failure.

import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const base = process.env.MOSAIC_URL;
const curatorToken = process.env.CURATOR_TOKEN;
const userToken = process.env.USER_TOKEN;
const userId = Number(process.env.USER_ID);
const screenshot = process.env.SCREENSHOT ?? 'console-e2e.png';
assert.ok(base && curatorToken && userToken && userId, 'MOSAIC_URL, CURATOR_TOKEN, USER_TOKEN and USER_ID are set');

async function get(path, token) {
  const r = await fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  assert.equal(r.status, 200, `${path} answers 200`);
  return r.json();
}

/** The user's first two feed pages, as offer ids in order. */
async function feedIds() {
  const first = await get(`/v1/feed?user_id=${userId}&limit=20`, userToken);
  assert.ok(first.next_cursor, 'the feed has a second page');
  const second = await get(`/v1/feed?user_id=${userId}&limit=20&cursor=${encodeURIComponent(first.next_cursor)}`, userToken);
  return { ids: [...first.items, ...second.items].map((c) => c.offer_id), second: second.items };
}

const before = await feedIds();
// An offer of the second page that the autocomplete finds by its title, one with a venue
// when there is one (the department map then shows it).
let target = null;
const candidates = [...before.second.filter((c) => c.venue), ...before.second.filter((c) => !c.venue)];
for (const card of candidates) {
  const found = await get(`/v1/search?q=${encodeURIComponent(card.title)}&limit=8`);
  const index = found.items.findIndex((c) => c.offer_id === card.offer_id);
  if (index >= 0) {
    target = { ...card, index };
    break;
  }
}
assert.ok(target, 'an offer of page 2 is found by its title');
const rankBefore = before.ids.indexOf(target.offer_id) + 1;
console.log(`target offer ${target.offer_id} "${target.title}" at rank ${rankBefore}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run'],
});
let failed = false;
const page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'fr-FR' });
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
// The wrong token's 401 is expected; any other failed load or script error is not.
page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text()); });
try {
  await page.goto(`${base}/console`);
  assert.equal(await page.getAttribute('html', 'lang'), 'fr');

  // A wrong token is refused with a message; the right one opens the workspace.
  await page.getByLabel('Jeton curateur').fill('not-a-token');
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.locator('#signin-error', { hasText: 'Jeton inconnu' }).waitFor();
  await page.getByLabel('Jeton curateur').fill(curatorToken);
  await page.keyboard.press('Enter');
  await page.locator('#workspace').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('mosaic.curatorToken')), curatorToken);

  // Every form control has a label.
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label'))
    .map((el) => el.id || el.name));
  assert.deepEqual(unlabelled, [], 'every control has a label');

  // The offer, picked with the keyboard from the autocomplete.
  const search = page.getByRole('combobox', { name: 'Rechercher une offre' });
  await search.fill(target.title);
  await page.locator(`#offer-options [role="option"][data-id="${target.offer_id}"]`).waitFor();
  for (let i = 0; i <= target.index; i += 1) await search.press('ArrowDown');
  await search.press('Enter');
  await page.locator('#offer-chosen', { hasText: `n° ${target.offer_id}` }).waitFor();

  await page.getByLabel('Poids (de −1 à 1, non nul)').fill('1');
  await page.getByLabel('Ou ces utilisateurs (identifiants séparés par des virgules)').fill(String(userId));
  await page.getByRole('button', { name: 'Prévisualiser' }).click();

  // The preview shows the offer entering the user's first page.
  const persona = page.locator(`#preview article[data-user-id="${userId}"]`);
  await persona.waitFor();
  const boostedAfter = persona.locator(`.page:nth-child(2) li.boosted[data-offer-id="${target.offer_id}"]`);
  await boostedAfter.waitFor();
  assert.equal(await persona.locator(`.page:nth-child(1) li[data-offer-id="${target.offer_id}"]`).count(), 0,
    'not on the first page before');
  const summary = await page.locator('#preview-summary').textContent();
  assert.match(summary, /monte ou apparaît pour 1 persona/);
  assert.equal(await page.locator('#preview').getAttribute('aria-live'), 'polite');
  console.log(`preview: ${summary.trim()}`);

  // Publish: the boost is listed as active and the map counts its offer.
  await page.getByRole('button', { name: 'Publier' }).click();
  await page.locator('#status', { hasText: 'publié' }).waitFor();
  const row = page.locator('#boost-list tr', { hasText: `Offre n° ${target.offer_id}` });
  await row.locator('.badge', { hasText: 'Actif' }).waitFor();
  await page.locator('#departments table').waitFor();
  await page.locator('#preview-section').scrollIntoViewIfNeeded();
  await page.screenshot({ path: screenshot, fullPage: true });
  assert.deepEqual(errors, [], 'no error in the page');

  // Through the API, as the app sees it: the offer rose in the user's feed.
  const after = await feedIds();
  const rankAfter = after.ids.indexOf(target.offer_id) + 1;
  console.log(`rank in the user's feed: ${rankBefore} before, ${rankAfter} after`);
  assert.ok(rankAfter >= 1 && rankAfter < rankBefore, 'the boosted offer rose');
  assert.ok(rankAfter <= 20, 'the boosted offer reached the first page');
  console.log(`ok: screenshot in ${screenshot}`);
} catch (e) {
  failed = true;
  console.error(e);
  await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
