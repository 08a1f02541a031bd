// The boost editor: target (offer or venue found with an autocomplete over the search,
// subcategory, phrase), weight, window, note, and the personas of the preview.

import { search } from './api.mjs';
import { h } from './views.mjs';

const $ = (id) => document.getElementById(id);

/** `datetime-local` value (local time) of a unix-seconds instant. */
function localInput(s) {
  const d = new Date(s * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Unix seconds of a `datetime-local` value, or NaN. */
const seconds = (v) => Math.floor(new Date(v).getTime() / 1000);

/**
 * An ARIA combobox over `input` and its listbox: `fetch(q)` gives options
 * `{id, label, detail}`, `onPick(option)` is called on Enter or click.
 */
function combobox(input, list, fetchOptions, onPick) {
  let options = [];
  let active = -1;
  let timer = null;
  let seq = 0;
  const close = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  };
  const highlight = (i) => {
    active = i;
    [...list.children].forEach((li, j) => li.setAttribute('aria-selected', String(j === i)));
    if (i >= 0) {
      input.setAttribute('aria-activedescendant', list.children[i].id);
      list.children[i].scrollIntoView({ block: 'nearest' });
    } else input.removeAttribute('aria-activedescendant');
  };
  const pick = (i) => {
    const o = options[i];
    if (!o) return;
    close();
    onPick(o);
  };
  const render = () => {
    list.replaceChildren(...options.map((o, i) => h('li', {
      id: `${list.id}-${i}`, role: 'option', 'aria-selected': 'false', 'data-id': o.id,
      // mousedown, not click: the input would lose focus and close the list first.
      onmousedown: (e) => { e.preventDefault(); pick(i); },
    }, h('span', { class: 'opt-label' }, o.label), h('span', { class: 'opt-detail' }, o.detail))));
    if (options.length === 0) {
      list.replaceChildren(h('li', { class: 'empty', role: 'option', 'aria-disabled': 'true' }, 'Aucun résultat'));
    }
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    highlight(-1);
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2) { close(); return; }
    timer = setTimeout(async () => {
      const mine = ++seq;
      try {
        const found = await fetchOptions(q);
        if (mine !== seq) return; // an older answer arriving late
        options = found;
        render();
      } catch {
        close();
      }
    }, 200);
  });
  input.addEventListener('keydown', (e) => {
    const open = !list.hidden && options.length > 0;
    if (e.key === 'ArrowDown' && open) { e.preventDefault(); highlight((active + 1) % options.length); }
    else if (e.key === 'ArrowUp' && open) { e.preventDefault(); highlight((active - 1 + options.length) % options.length); }
    else if (e.key === 'Enter' && open && active >= 0) { e.preventDefault(); pick(active); }
    else if (e.key === 'Escape' && !list.hidden) { e.preventDefault(); close(); }
  });
  input.addEventListener('blur', () => setTimeout(close, 100));
}

/** The editor: read a draft from it, fill it from a stored boost, reset it. */
export class Editor {
  constructor() {
    this.offer = null; // {id, label}
    this.venue = null;
    this.editing = null; // the stored boost being edited
    for (const r of document.querySelectorAll('input[name="kind"]')) {
      r.addEventListener('change', () => this.showKind());
    }
    combobox($('offer-search'), $('offer-options'), async (q) => (await search(q, 8)).map((c) => ({
      id: c.offer_id,
      label: c.title,
      detail: `n° ${c.offer_id} · ${c.venue ? c.venue.name : 'numérique'}`,
    })), (o) => this.chooseOffer(o));
    combobox($('venue-search'), $('venue-options'), async (q) => {
      const seen = new Map();
      for (const c of await search(q, 30)) {
        if (c.venue && !seen.has(c.venue.id)) {
          seen.set(c.venue.id, { id: c.venue.id, label: c.venue.name, detail: `lieu n° ${c.venue.id}` });
        }
      }
      return [...seen.values()].slice(0, 8);
    }, (o) => this.chooseVenue(o));
    this.reset();
  }

  /** Fills the subcategory and taste lists from the taxonomy. */
  setTaxonomy(categories) {
    $('subcategory').replaceChildren(...categories.map((c) => h('optgroup', { label: c.label },
      c.subcategories.map((s) => h('option', { value: s.id }, s.label)))));
    $('p-taste').replaceChildren(h('option', { value: '' }, 'Indifférent'),
      ...categories.map((c) => h('option', { value: c.id }, c.label)));
  }

  kind() {
    return document.querySelector('input[name="kind"]:checked').value;
  }

  showKind() {
    const kind = this.kind();
    for (const el of document.querySelectorAll('.target')) el.hidden = el.dataset.kind !== kind;
  }

  chooseOffer(o) {
    this.offer = o;
    $('offer-search').value = o.label;
    $('offer-chosen').textContent = `Offre choisie : n° ${o.id} — ${o.label}`;
  }

  chooseVenue(o) {
    this.venue = o;
    $('venue-search').value = o.label;
    $('venue-chosen').textContent = `Lieu choisi : n° ${o.id} — ${o.label}`;
  }

  /** The draft in the form, or throws an Error with a French message. */
  draft() {
    const kind = this.kind();
    let value;
    if (kind === 'offer') {
      if (!this.offer) throw new Error('Choisissez une offre dans la liste proposée.');
      value = this.offer.id;
    } else if (kind === 'venue') {
      if (!this.venue) throw new Error('Choisissez un lieu dans la liste proposée.');
      value = this.venue.id;
    } else if (kind === 'subcategory') {
      value = $('subcategory').value;
      if (!value) throw new Error('Choisissez une sous-catégorie.');
    } else {
      value = $('phrase').value.trim();
      if (value.length < 2 || value.length > 100) throw new Error("L'expression fait de 2 à 100 caractères.");
    }
    const weight = Number($('weight').value);
    if (!Number.isFinite(weight) || weight < -1 || weight > 1 || weight === 0 || $('weight').value === '') {
      throw new Error('Le poids est compris entre −1 et 1 et non nul.');
    }
    const startsAt = seconds($('starts').value);
    const endsAt = seconds($('ends').value);
    if (!Number.isFinite(startsAt) || !Number.isFinite(endsAt)) throw new Error('Indiquez le début et la fin.');
    if (endsAt <= startsAt) throw new Error('La fin doit suivre le début.');
    return {
      target: { kind, value }, weight, starts_at: startsAt, ends_at: endsAt, note: $('note').value.trim(),
    };
  }

  /** The preview request for the draft: personas or explicit users. */
  previewRequest() {
    const request = { draft: this.draft() };
    if (this.editing) request.replaces = this.editing.id;
    const users = $('p-users').value.split(/[\s,;]+/).filter(Boolean);
    if (users.length > 0) {
      if (!users.every((u) => /^\d+$/.test(u))) throw new Error('Les identifiants sont des nombres.');
      request.users = users.map(Number);
      return request;
    }
    const personas = {};
    const dep = $('p-department').value.trim().toUpperCase();
    if (dep) personas.department = dep;
    for (const [id, key] of [['p-min-age', 'min_age'], ['p-max-age', 'max_age']]) {
      if ($(id).value !== '') personas[key] = Number($(id).value);
    }
    if ($('p-taste').value) personas.taste = $('p-taste').value;
    request.personas = personas;
    const sample = Number($('p-sample').value || 6);
    if (!Number.isInteger(sample) || sample < 1 || sample > 40) throw new Error('De 1 à 40 personas.');
    request.sample = sample;
    return request;
  }

  /** Loads a stored boost for editing. */
  edit(boost) {
    this.editing = boost;
    const { kind, value } = boost.target;
    document.querySelector(`input[name="kind"][value="${kind}"]`).checked = true;
    this.showKind();
    // Keep the title or name when it is the one just chosen (after publishing).
    if (kind === 'offer' && this.offer?.id !== value) this.chooseOffer({ id: value, label: `offre n° ${value}` });
    if (kind === 'venue' && this.venue?.id !== value) this.chooseVenue({ id: value, label: `lieu n° ${value}` });
    if (kind === 'subcategory') $('subcategory').value = value;
    if (kind === 'phrase') $('phrase').value = value;
    $('weight').value = String(boost.weight);
    $('starts').value = localInput(boost.starts_at);
    $('ends').value = localInput(boost.ends_at);
    $('note').value = boost.note;
    $('editor-title').textContent = `Modifier le boost n° ${boost.id}`;
    $('publish-button').textContent = 'Enregistrer les modifications';
    $('cancel-edit').hidden = false;
  }

  /** A fresh draft: offer target, weight 0.5, from now for a week. */
  reset() {
    this.editing = null;
    this.offer = null;
    this.venue = null;
    document.querySelector('input[name="kind"][value="offer"]').checked = true;
    this.showKind();
    for (const id of ['offer-search', 'venue-search', 'phrase', 'note']) $(id).value = '';
    $('offer-chosen').textContent = 'Aucune offre choisie.';
    $('venue-chosen').textContent = 'Aucun lieu choisi.';
    $('weight').value = '0.5';
    const now = Math.floor(Date.now() / 1000);
    $('starts').value = localInput(now);
    $('ends').value = localInput(now + 7 * 86400);
    $('editor-title').textContent = 'Nouveau boost';
    $('publish-button').textContent = 'Publier';
    $('cancel-edit').hidden = true;
  }
}
