// Small DOM helpers and French formatting shared by the console's parts. Data from the
// API is always inserted as text, never as HTML.

/** An element with attributes (`on*` functions become listeners) and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const dateFmt = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'short', timeStyle: 'short' });
const numFmt = new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 2 });

/** A unix-seconds instant in French. */
export const when = (s) => dateFmt.format(new Date(s * 1000));
/** A number in French (decimal comma). */
export const num = (x) => numFmt.format(x);
/** A signed difference, with a true minus sign. */
export const signed = (x) => (x > 0 ? `+${num(x)}` : x < 0 ? `−${num(-x)}` : '0');

export const STATUS = {
  active: 'Actif', scheduled: 'Programmé', ended: 'Terminé', expired: 'Expiré',
};

/** What a boost targets, in words. `subLabels` maps subcategory ids to labels. */
export function describeTarget(target, subLabels = new Map()) {
  switch (target.kind) {
    case 'offer': return `Offre n° ${target.value}`;
    case 'venue': return `Lieu n° ${target.value}`;
    case 'subcategory': return `Sous-catégorie « ${subLabels.get(target.value) ?? target.value} »`;
    case 'phrase': return `Expression « ${target.value} »`;
    default: return String(target.value);
  }
}

/** Whether a boost belongs to the listing chosen in the filter. */
export function shown(boost, filter) {
  switch (filter) {
    case 'current': return boost.status === 'active' || boost.status === 'scheduled';
    case 'past': return boost.status === 'ended' || boost.status === 'expired';
    case 'all': return true;
    default: return boost.status === filter;
  }
}

/** The table of boosts, with edit and expire buttons. */
export function boostTable(boosts, { subLabels, onEdit, onExpire }) {
  if (boosts.length === 0) return h('p', { class: 'help' }, 'Aucun boost dans cette liste.');
  const rows = boosts.map((b) => {
    const editable = b.status !== 'expired';
    const stoppable = b.status === 'active' || b.status === 'scheduled';
    const expire = h('button', { type: 'button', class: 'secondary danger' }, 'Expirer');
    // Two steps: expiring cannot be undone.
    let armed = null;
    expire.addEventListener('click', () => {
      if (armed) {
        clearTimeout(armed);
        onExpire(b);
        return;
      }
      expire.textContent = "Confirmer l'expiration";
      expire.setAttribute('aria-label', `Confirmer l'expiration du boost n° ${b.id}`);
      armed = setTimeout(() => {
        armed = null;
        expire.textContent = 'Expirer';
        expire.setAttribute('aria-label', `Expirer le boost n° ${b.id}`);
      }, 5000);
    });
    expire.setAttribute('aria-label', `Expirer le boost n° ${b.id}`);
    return h('tr', { 'data-boost-id': b.id },
      h('td', {}, String(b.id)),
      h('td', {}, describeTarget(b.target, subLabels), b.note ? h('div', { class: 'help' }, b.note) : null),
      h('td', { class: 'num' }, signed(b.weight)),
      h('td', {}, `${when(b.starts_at)} → ${when(b.ends_at)}`),
      h('td', {}, h('span', { class: `badge ${b.status}` }, STATUS[b.status] ?? b.status)),
      h('td', { class: 'actions' },
        editable ? h('button', {
          type: 'button', class: 'secondary', 'aria-label': `Modifier le boost n° ${b.id}`, onclick: () => onEdit(b),
        }, 'Modifier') : null,
        stoppable ? expire : null));
  });
  return h('table', {},
    h('caption', { class: 'visually-hidden' }, 'Boosts éditoriaux'),
    h('thead', {}, h('tr', {},
      ...['N°', 'Cible', 'Poids', 'Fenêtre', 'Statut', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows));
}

/** Lifted offers per department, as a list with proportional bars. */
export function departmentList({ items, total }) {
  if (items.length === 0) return h('p', { class: 'help' }, 'Aucune offre mise en avant en ce moment.');
  const max = Math.max(...items.map((d) => d.offers));
  return h('table', { class: 'departments' },
    h('caption', {}, `${num(total)} offre(s) mises en avant par les boosts actifs`),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Département'),
      h('th', { scope: 'col' }, 'Offres'),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Part'), ''))),
    h('tbody', {}, items.map((d) => {
      const bar = h('span', { class: 'bar', 'aria-hidden': 'true' });
      bar.style.width = `${Math.max(2, (100 * d.offers) / max)}%`;
      return h('tr', {},
        h('th', { scope: 'row' }, d.department === '' ? 'Offres numériques (sans lieu)' : d.department),
        h('td', { class: 'num' }, num(d.offers)),
        h('td', { class: 'bar-cell' }, bar));
    })));
}
