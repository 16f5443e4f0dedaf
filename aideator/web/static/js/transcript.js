// A column's transcript on screen. All entries stay in memory; the DOM holds at most
// `cap` of them (the newest while following), so thousands of lines per column keep the
// page responsive. "Show earlier" brings older entries back a page at a time. The view
// follows new output until the person scrolls up, and again once they are back at the
// bottom.

import { el } from './dom.js';
import { render, update } from './entries.js';

const NEAR_BOTTOM = 48;   // px: "at the bottom", allowing for rounding and a last line

export class Transcript {
  constructor(entries, { cap = 300, page = 200 } = {}) {
    this.entries = entries;
    this.cap = cap;
    this.page = page;
    this.start = 0;   // entries[start, end) are in the DOM
    this.end = 0;
    this.following = true;
    this.list = el('ol', { class: 'entries' });
    this.earlier = el('button', { type: 'button', class: 'earlier', hidden: true, onclick: () => this.showEarlier() });
    this.box = el('div', { class: 'transcript', tabindex: '0' }, this.earlier, this.list);
    this.latest = el('button', { type: 'button', class: 'to-latest', hidden: true, onclick: () => this.follow() }, '↓ Latest');
    this.node = el('div', { class: 'transcript-frame' }, this.box, this.latest);
    this.box.addEventListener('scroll', () => this.onScroll(), { passive: true });
  }

  get rendered() {
    return this.end - this.start;
  }

  // Bring the DOM up to date with the entries (once per animation frame). Every column
  // writes first and scrolls after (settle), so the page lays out once, not per column.
  render() {
    const list = this.entries.list;
    if (this.following && list.length - this.end > this.cap) {
      // Far behind (a replay, a burst): skip straight to the newest entries.
      for (let i = this.start; i < this.end; i += 1) list[i].node = null;
      this.list.replaceChildren();
      this.start = this.end = list.length - this.cap;
    }
    if (this.end < list.length) {
      const fragment = document.createDocumentFragment();
      for (let i = this.end; i < list.length; i += 1) fragment.append(render(list[i]));
      this.end = list.length;
      this.list.append(fragment);
    }
    for (const entry of this.entries.changed) if (entry.node) update(entry);
    this.entries.changed.clear();
    if (this.following) this.trim();
    this.updateEarlier();
  }

  prepend(from) {
    const fragment = document.createDocumentFragment();
    for (let i = from; i < this.start; i += 1) fragment.append(render(this.entries.list[i]));
    this.list.prepend(fragment);
    this.start = from;
  }

  // After every column has rendered: keep a following view at the bottom.
  settle() {
    if (this.following) this.box.scrollTop = this.box.scrollHeight;
  }

  trim() {
    const excess = this.rendered - this.cap;
    for (let i = 0; i < excess; i += 1) {
      this.entries.list[this.start].node = null;
      this.list.firstChild.remove();
      this.start += 1;
    }
  }

  showEarlier() {
    const before = this.box.scrollHeight;
    this.prepend(Math.max(0, this.start - this.page));
    this.following = false;
    // Keep what the person was looking at in place.
    this.box.scrollTop += this.box.scrollHeight - before;
    this.updateEarlier();
    this.latest.hidden = false;
  }

  follow() {
    this.following = true;
    this.latest.hidden = true;
    this.onFollow?.();
  }

  onScroll() {
    const atBottom = this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight <= NEAR_BOTTOM;
    if (atBottom !== this.following) {
      this.following = atBottom;
      this.latest.hidden = atBottom;
    }
  }

  updateEarlier() {
    if (this.start === this.shownStart) return;
    this.shownStart = this.start;
    this.earlier.hidden = this.start === 0;
    if (this.start > 0) this.earlier.textContent = `Show earlier (${this.start.toLocaleString('en')} hidden)`;
  }
}
