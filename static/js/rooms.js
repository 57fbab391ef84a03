// The room list (sidebar) and the member panel.

import { button, el, toast } from './dom.js';
import { ROOM_TYPES, formatTime } from './i18n.js';

const COUNTS_EVERY_MS = 30000;
const DETAILS_AT_ONCE = 20;

export function typeTag(roomType) {
  return el('span', `type-tag ${roomType || ''}`, ROOM_TYPES[roomType] || roomType || '房间');
}

export class RoomList {
  constructor({ rest, els, onSelect }) {
    Object.assign(this, { rest, els, onSelect });
    this.rooms = [];
    this.current = null;
    this.timer = null;
    els.refresh.addEventListener('click', () => this.load());
  }

  find(roomId) {
    return this.rooms.find((r) => r.roomId === roomId);
  }

  async load() {
    try {
      const rooms = await this.rest.get('rooms/');
      const counts = new Map(this.rooms.map((r) => [r.roomId, r.onlineCount]));
      this.rooms = rooms.map((r) => ({ ...r, onlineCount: counts.get(r.roomId) ?? null }));
      this.render();
      this._refreshCounts();
      clearInterval(this.timer);
      this.timer = setInterval(() => this._refreshCounts(), COUNTS_EVERY_MS);
      return this.rooms;
    } catch (err) {
      if (err.code !== 'unauthorized') toast('房间列表加载失败', '请稍后点击“刷新”重试', { kind: 'error' });
      throw err;
    }
  }

  stop() {
    clearInterval(this.timer);
    this.rooms = [];
    this.render();
  }

  /** Online counts of the listed rooms (REST room detail); the open room's is live. */
  async _refreshCounts() {
    if (document.hidden) return;
    await Promise.all(
      this.rooms.slice(0, DETAILS_AT_ONCE).map(async (room) => {
        if (room.roomId === this.current) return;
        try {
          const detail = await this.rest.get(`rooms/${encodeURIComponent(room.roomId)}/`);
          room.onlineCount = detail.onlineCount;
          room.isClosed = detail.isClosed;
        } catch {
          /* keep the last value */
        }
      }),
    );
    this.render();
  }

  setCurrent(roomId) {
    const left = this.current;
    this.current = roomId;
    this.render();
    // The room just left counts one fewer: ask soon rather than in 30 s.
    if (left && left !== roomId) setTimeout(() => this._refreshCounts(), 1500);
  }

  update(roomId, changes) {
    const room = this.find(roomId);
    if (!room) return;
    Object.assign(room, changes);
    this.render();
  }

  render() {
    const list = this.els.list;
    const focused = document.activeElement?.dataset?.roomId;
    list.replaceChildren();
    if (!this.rooms.length) {
      list.append(el('li', 'sys', '暂无可进入的房间'));
      return;
    }
    for (const room of this.rooms) {
      const meta = el('span', 'r-meta');
      meta.append(typeTag(room.roomType));
      if (room.isClosed) meta.append(el('span', 'closed-tag', '已关闭'));
      else if (room.onlineCount != null && room.roomType !== 'ai_assistant') meta.append(el('span', 'r-online', `${room.onlineCount} 人在线`));
      const item = button('', () => this.onSelect(room), {
        'data-room-id': room.roomId,
        'aria-current': room.roomId === this.current ? 'true' : 'false',
      });
      item.append(el('span', 'r-title', room.title || room.roomId), meta);
      list.append(el('li'));
      list.lastChild.append(item);
      if (focused === room.roomId) item.focus();
    }
  }
}

export class Members {
  constructor({ rest, els }) {
    Object.assign(this, { rest, els });
    this.room = null;
    this.offset = 0;
    els.toggle.addEventListener('click', () => this.toggle());
    els.close.addEventListener('click', () => this.close());
    els.more.addEventListener('click', () => this.load());
  }

  setRoom(room, onlineCount) {
    this.room = room;
    this.onlineCount = onlineCount;
    if (!this.els.panel.hidden) this.load(true);
  }

  setOnline(n) {
    this.onlineCount = n;
    if (!this.els.panel.hidden && this.room?.roomType !== 'cultural_circle') this._summary();
  }

  toggle() {
    if (this.els.panel.hidden) this.open();
    else this.close();
  }

  open() {
    this.els.panel.hidden = false;
    this.els.toggle.setAttribute('aria-expanded', 'true');
    this.els.close.focus();
    this.load(true);
  }

  close() {
    if (this.els.panel.hidden) return;
    this.els.panel.hidden = true;
    this.els.toggle.setAttribute('aria-expanded', 'false');
    this.els.toggle.focus();
  }

  _summary(text) {
    this.els.summary.textContent =
      text || (this.onlineCount != null ? `当前 ${this.onlineCount} 人在线。此类房间不保留成员名单。` : '此类房间不保留成员名单。');
  }

  async load(first = false) {
    const { list, more } = this.els;
    if (first) {
      list.replaceChildren();
      this.offset = 0;
    }
    more.hidden = true;
    if (!this.room) return;
    if (this.room.roomType !== 'cultural_circle') {
      this._summary();
      return;
    }
    try {
      const id = encodeURIComponent(this.room.roomId);
      const page = await this.rest.get(`rooms/${id}/members/?limit=50&offset=${this.offset}`);
      for (const m of page.members) {
        const li = el('li');
        li.append(el('span', null, m.userName), el('time', { datetime: m.joinedAt }, `${formatTime(m.joinedAt)} 加入`));
        list.append(li);
      }
      this.offset += page.members.length;
      this._summary(`共 ${page.count} 位成员${this.onlineCount != null ? `，${this.onlineCount} 人在线` : ''}`);
      more.hidden = this.offset >= page.count;
    } catch {
      this._summary('成员列表加载失败，请稍后再试');
    }
  }
}
