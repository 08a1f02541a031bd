// The preview of a draft: a warning when pages fall below the diversity guarantees,
// diversity and venue-exposure deltas, and each persona's first page before and after.

import { h, num, signed } from './views.mjs';

const GUARANTEES = 'au moins 4 catégories, au moins 2 offres de catégories nouvelles pour la personne, au plus 2 offres par lieu';

function metricsTable(before, after) {
  const rows = [
    ['Catégories par page (moyenne)', before.mean_categories, after.mean_categories, 'higher'],
    ['Part des offres « à découvrir »', before.discover_share * 100, after.discover_share * 100, 'higher', ' %'],
    ['Lieux distincts exposés', before.distinct_venues, after.distinct_venues, 'higher'],
    ['Concentration de l\'exposition par lieu (Herfindahl)', before.venue_concentration, after.venue_concentration, 'lower'],
  ];
  return h('table', { class: 'metrics' },
    h('caption', {}, 'Diversité et exposition des lieux, sur toutes les pages de l\'aperçu'),
    h('thead', {}, h('tr', {}, ...['Indicateur', 'Avant', 'Après', 'Écart'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map(([label, b, a, better, unit = '']) => {
      const d = a - b;
      const worse = Math.abs(d) > 1e-9 && ((better === 'higher' && d < 0) || (better === 'lower' && d > 0));
      return h('tr', {},
        h('th', { scope: 'row' }, label),
        h('td', { class: 'num' }, num(b) + unit),
        h('td', { class: 'num' }, num(a) + unit),
        h('td', { class: `num ${worse ? 'worse' : ''}` }, signed(Number(d.toFixed(4))) + unit, worse ? ' (moins divers)' : ''));
    })));
}

function exposureTable(caption, rows) {
  const changed = rows.filter((r) => r.delta !== 0).slice(0, 10);
  if (changed.length === 0) return h('p', { class: 'help' }, `${caption} : aucun changement.`);
  return h('table', { class: 'exposure' },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...['', 'Avant', 'Après', 'Écart'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, changed.map((r) => h('tr', {},
      h('th', { scope: 'row' }, r.label),
      h('td', { class: 'num' }, num(r.before)),
      h('td', { class: 'num' }, num(r.after)),
      h('td', { class: 'num' }, signed(r.delta))))));
}

function checkLine(c) {
  const part = (ok, text) => h('span', { class: ok ? 'ok' : 'ko' }, ok ? '✓ ' : '✗ ', text);
  return h('p', { class: 'checks' },
    part(c.categories >= 4, `${c.categories} catégories`), ' · ',
    part(c.new_to_user >= 2, `${c.new_to_user} nouveautés`), ' · ',
    part(c.max_per_venue <= 2, `${c.max_per_venue} au plus par lieu`));
}

function pageList(title, items, checks, moves, side) {
  const rank = new Map(moves.map((m) => [m.offer_id, m]));
  return h('div', { class: 'page' },
    h('h4', {}, title),
    checkLine(checks),
    h('ol', {}, items.map((it) => {
      const m = rank.get(it.offer_id);
      let move = null;
      if (side === 'after' && m) {
        move = m.before === null ? 'nouveau' : m.before > m.after ? `↑ ${m.before - m.after}` : `↓ ${m.after - m.before}`;
      }
      return h('li', { class: it.boosted ? 'boosted' : '', 'data-offer-id': it.offer_id },
        it.boosted ? h('span', { class: 'badge boost' }, 'Boosté') : null,
        h('span', { class: 'title' }, it.title),
        h('span', { class: 'meta' }, ` · ${it.category_label}${it.venue_name ? ` · ${it.venue_name}` : ''}`),
        move ? h('span', { class: 'move' }, ` (${move})`) : null);
    })));
}

function personaCard(p, catLabels) {
  const belowAfter = !p.guarantees_after;
  const broken = p.guarantees_before && !p.guarantees_after;
  return h('article', { class: `persona ${belowAfter ? 'below' : ''}`, 'data-user-id': p.user_id },
    h('h3', {}, `Utilisateur n° ${p.user_id} — ${p.age} ans, département ${p.department}`,
      p.top_category ? `, goût : ${catLabels.get(p.top_category) ?? p.top_category}` : ''),
    h('p', {}, `Offres ciblées sur la page : ${p.boosted_before} avant, ${p.boosted_after} après. `,
      `${p.moves.length} offre(s) changent de place.`),
    broken ? h('p', { class: 'warning' }, '⚠ Ce boost fait passer cette page sous les garanties de diversité.')
      : belowAfter ? h('p', { class: 'note' }, 'Cette page était déjà sous les garanties avant le boost (offre locale trop étroite).') : null,
    h('div', { class: 'side-by-side' },
      pageList('Avant', p.page_before, p.checks_before, p.moves, 'before'),
      pageList('Après', p.page_after, p.checks_after, p.moves, 'after')));
}

/** Renders a preview answer into `root`. */
export function renderPreview(root, p, catLabels = new Map()) {
  const below = p.personas.filter((x) => !x.guarantees_after).length;
  const raised = p.personas.filter((x) => x.boosted_after > x.boosted_before).length;
  const warning = p.broken_guarantees > 0
    ? h('div', { class: 'warning', role: 'alert', id: 'diversity-warning' },
      h('strong', {}, `Attention : ${p.broken_guarantees} page(s) passent sous les garanties de diversité avec ce boost. `),
      `Chaque page doit garder ${GUARANTEES}. Baissez le poids ou restreignez la cible.`)
    : below > 0
      ? h('div', { class: 'note', id: 'diversity-warning' },
        `${below} page(s) sont sous les garanties de diversité (${GUARANTEES}), mais l'étaient déjà sans ce boost.`)
      : h('p', { class: 'ok-banner' }, `✓ Toutes les pages gardent les garanties de diversité (${GUARANTEES}).`);
  const parts = [
    h('p', { class: 'summary', id: 'preview-summary' },
      `${num(p.reached_offers)} offre(s) ciblée(s). `,
      `${p.changed_feeds} fil(s) sur ${p.personas.length} modifié(s) ; `,
      `l'offre ciblée monte ou apparaît pour ${raised} persona(s).`),
    warning,
    p.personas.length === 0 ? h('p', {}, 'Aucun utilisateur ne correspond à ces personas.') : null,
    h('div', { class: 'tables' },
      metricsTable(p.diversity_before, p.diversity_after),
      exposureTable('Exposition par lieu (nombre d\'apparitions)', p.by_venue),
      exposureTable('Exposition par catégorie', p.by_category)),
    ...p.personas.map((x) => personaCard(x, catLabels))];
  root.replaceChildren(...parts.filter(Boolean));
}
