// The stage above the messages: a danmaku layer, driven by a playback timeline in
// drama rooms (comments keyed to episode + position) or by live chats in live rooms.

import { el } from './dom.js';
import { formatPlayback } from './i18n.js';

const LANE_PX = 28;
const CROSS_MS = 8000; // time a comment takes to cross a 600 px wide screen
const WINDOW_MS = 60000; // danmaku is loaded a minute of playback at a time
const CATCH_UP_MS = 1500; // comments this far behind the playhead still show

/** Comments flying right to left over the screen, one lane each at a time. */
export class DanmakuLayer {
  constructor(layer) {
    this.layer = layer;
    this.lanes = [];
    this.animations = new Set();
    this.paused = false;
  }

  clear() {
    for (const a of this.animations) a.cancel();
    this.animations.clear();
    this.layer.replaceChildren();
    this.lanes = [];
  }

  setVisible(on) {
    this.layer.classList.toggle('off', !on);
  }

  setPaused(paused) {
    this.paused = paused;
    for (const a of this.animations) {
      if (a.keepMoving) continue;
      if (paused) a.pause();
      else a.play();
    }
  }

  /** Show one comment; `own` comments move even while playback is paused. */
  shoot(text, { own = false } = {}) {
    if (this.layer.classList.contains('off')) return;
    const width = this.layer.clientWidth || 600;
    const lanes = Math.max(1, Math.floor((this.layer.clientHeight - 8) / LANE_PX));
    const now = performance.now();
    let lane = 0;
    for (let i = 0; i < lanes; i++) {
      if ((this.lanes[i] || 0) <= now) {
        lane = i;
        break;
      }
      if ((this.lanes[i] || 0) < (this.lanes[lane] || 0)) lane = i;
    }
    const node = el('span', own ? 'dm own' : 'dm', text);
    node.style.top = `${4 + lane * LANE_PX}px`;
    this.layer.append(node);
    const w = node.offsetWidth;
    const speed = (600 + 200) / CROSS_MS; // px per ms, the same for every comment
    const animation = node.animate(
      [{ transform: `translateX(${width}px)` }, { transform: `translateX(${-w - 10}px)` }],
      { duration: (width + w + 10) / speed, easing: 'linear' },
    );
    animation.keepMoving = own;
    this.lanes[lane] = now + (w + 24) / speed;
    this.animations.add(animation);
    const done = () => {
      this.animations.delete(animation);
      node.remove();
    };
    animation.onfinish = done;
    animation.oncancel = done;
    if (this.paused && !own) animation.pause();
  }
}

/**
 * A playback timeline for a drama room. The page has no video: the timeline stands
 * in for the platform's player (which would call seek() and setEpisode()).
 */
export class DramaPlayer {
  constructor({ client, layer, els, durationMs = 20 * 60000 }) {
    Object.assign(this, { client, layer, els, durationMs });
    this.roomId = null;
    this.episode = 1;
    this.position = 0;
    this.playing = false;
    this.items = []; // [{id, ms, text, own}] of this episode, by position
    this.itemIds = new Set();
    this.shown = new Set();
    this.loaded = new Set(); // window indexes loaded (or loading)
    this.timer = null;
    els.play.addEventListener('click', () => this.toggle());
    els.seek.addEventListener('input', () => this.seek(Number(els.seek.value)));
    els.episode.addEventListener('change', () => this.setEpisode(Number(els.episode.value)));
    els.seek.max = String(durationMs);
  }

  open(roomId, title) {
    this.close();
    this.roomId = roomId;
    this.title = title;
    const saved = JSON.parse(localStorage.getItem(this._key()) || 'null');
    this.episode = saved?.episode || 1;
    this.position = Math.min(saved?.ms || 0, this.durationMs);
    this.layer.setPaused(true);
    this._resetEpisode();
    this._render();
  }

  close() {
    this.pause();
    this.roomId = null;
    this.layer.clear();
  }

  _key() {
    return `yyc3.player.${this.roomId}`;
  }

  _save() {
    if (this.roomId) localStorage.setItem(this._key(), JSON.stringify({ episode: this.episode, ms: Math.round(this.position) }));
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  play() {
    if (this.playing || !this.roomId) return;
    if (this.position >= this.durationMs) this.seek(0);
    this.playing = true;
    this.layer.setPaused(false);
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.position = Math.min(this.durationMs, this.position + (now - last));
      last = now;
      this._tick();
      if (this.position >= this.durationMs) this.pause();
    }, 200);
    this._render();
  }

  pause() {
    clearInterval(this.timer);
    this.timer = null;
    if (!this.playing) return;
    this.playing = false;
    this.layer.setPaused(true);
    this._save();
    this._render();
  }

  /** Jump to `ms`: comments from there on show again as the playhead passes them. */
  seek(ms) {
    this.position = Math.max(0, Math.min(this.durationMs, ms));
    this.layer.clear();
    this.shown.clear();
    this._save();
    this._tick();
    this._render();
  }

  setEpisode(n) {
    if (!Number.isInteger(n) || n < 1) n = 1;
    this.episode = n;
    this.position = 0;
    this._resetEpisode();
    this._save();
    this._render();
  }

  _resetEpisode() {
    this.items = [];
    this.itemIds.clear();
    this.shown.clear();
    this.loaded.clear();
    this.layer.clear();
    this._tick();
  }

  /** A chat of this room arrived live (or was just sent by this user). */
  onChat(chat, { own = false } = {}) {
    if (chat.episode !== this.episode || chat.playbackMs == null) return;
    this._add(chat, own);
    const id = String(chat.id);
    // Near the playhead (or the user's own): show now, not only on a later pass.
    if (own || Math.abs(chat.playbackMs - this.position) <= CATCH_UP_MS) {
      this.shown.add(id);
      this.layer.shoot(chat.message, { own });
    }
  }

  _add(chat, own) {
    const id = String(chat.id);
    if (this.itemIds.has(id)) return;
    this.itemIds.add(id);
    const item = { id, ms: chat.playbackMs, text: chat.message, own };
    let i = this.items.length;
    while (i > 0 && this.items[i - 1].ms > item.ms) i--;
    this.items.splice(i, 0, item);
  }

  _tick() {
    if (!this.roomId) return;
    this._ensureLoaded(this.position);
    if (this.position + 10000 > (Math.floor(this.position / WINDOW_MS) + 1) * WINDOW_MS) {
      this._ensureLoaded(this.position + WINDOW_MS);
    }
    if (!this.playing && this.layer.paused) return;
    const from = this.position - CATCH_UP_MS;
    for (const item of this.items) {
      if (item.ms > this.position) break;
      if (item.ms <= from || this.shown.has(item.id)) continue;
      this.shown.add(item.id);
      this.layer.shoot(item.text, { own: item.own });
    }
    this._render();
    if (this.playing && Math.round(this.position / 1000) % 5 === 0) this._save();
  }

  async _ensureLoaded(ms) {
    const w = Math.floor(ms / WINDOW_MS);
    if (ms > this.durationMs || this.loaded.has(w)) return;
    this.loaded.add(w);
    const { roomId, episode } = this;
    const query = { episode, fromMs: w * WINDOW_MS, toMs: (w + 1) * WINDOW_MS - 1, limit: 100 };
    try {
      for (let page = 0; page < 5; page++) {
        const answer = await this.client.history(roomId, query);
        if (roomId !== this.roomId || episode !== this.episode) return;
        for (const chat of answer.messages) this._add(chat, String(chat.senderId) === this.client.userId);
        const last = answer.messages[answer.messages.length - 1];
        if (!answer.hasMore || !last) break;
        query.after = last.id;
      }
    } catch {
      this.loaded.delete(w); // not connected: the next tick tries again
    }
  }

  _render() {
    const { play, seek, clock, episode, caption } = this.els;
    play.textContent = this.playing ? '❚❚' : '▶';
    play.setAttribute('aria-label', this.playing ? '暂停' : '播放');
    if (document.activeElement !== seek) seek.value = String(Math.round(this.position));
    clock.textContent = `${formatPlayback(this.position)} / ${formatPlayback(this.durationMs)}`;
    if (document.activeElement !== episode) episode.value = String(this.episode);
    caption.textContent = `${this.title || ''} · 第 ${this.episode} 集`;
  }
}

/** The live room's stage: every live chat flies across the screen. */
export function liveCaption(caption, title) {
  caption.replaceChildren(el('span', null, title || ''));
}
