// The notification inbox: REST list with paging, live notifications, mark read.

import { button, el, toast } from './dom.js';
import { NOTIFICATION_TYPES, dramaStatusText, formatTime } from './i18n.js';

export class Inbox {
  constructor({ rest, els }) {
    Object.assign(this, { rest, els });
    this.items = new Map(); // id -> {data, node}
    this.unread = 0;
    this.next = null;
    this.loaded = false;
    els.toggle.addEventListener('click', () => this.toggle());
    els.close.addEventListener('click', () => this.close());
    els.more.addEventListener('click', () => this.load());
    els.readAll.addEventListener('click', () => this.markAllRead());
  }

  reset() {
    this.items.clear();
    this.els.list.replaceChildren();
    this.next = null;
    this.loaded = false;
    this.setUnread(0);
    this.close();
  }

  get isOpen() {
    return !this.els.panel.hidden;
  }

  toggle() {
    if (this.isOpen) this.close();
    else this.open();
  }

  async open() {
    this.els.panel.hidden = false;
    this.els.toggle.setAttribute('aria-expanded', 'true');
    this.els.close.focus();
    if (!this.loaded) await this.load(true);
  }

  close() {
    if (this.els.panel.hidden) return;
    this.els.panel.hidden = true;
    this.els.toggle.setAttribute('aria-expanded', 'false');
    this.els.toggle.focus();
  }

  async load(first = false) {
    const url = first || !this.next ? 'notifications/?limit=20' : this.next;
    this.els.more.disabled = true;
    try {
      const page = await this.rest.get(url);
      if (first) {
        this.items.clear();
        this.els.list.replaceChildren();
      }
      for (const data of page.results) this._add(data, { append: true });
      this.next = page.next;
      this.loaded = true;
    } catch (err) {
      if (err.code !== 'unauthorized') toast('通知加载失败', '请稍后再试', { kind: 'error' });
    } finally {
      this.els.more.disabled = false;
      this.els.more.hidden = !this.next;
      this.els.empty.hidden = this.items.size > 0;
    }
  }

  /** Ask the server for the unread count (after connecting, and after a reconnect). */
  async refreshCount() {
    try {
      const summary = await this.rest.get('notifications/unread-count/');
      this.setUnread(summary.unread);
    } catch {
      /* the badge keeps its last value */
    }
  }

  setUnread(n) {
    this.unread = Math.max(0, Number(n) || 0);
    const badge = this.els.badge;
    badge.hidden = this.unread === 0;
    badge.textContent = this.unread > 99 ? '99+' : String(this.unread);
    this.els.toggle.setAttribute('aria-label', this.unread ? `通知（${this.unread} 条未读）` : '通知');
  }

  /** A notification pushed on the socket (it may repeat: de-duplicated by id). */
  onNotification(data) {
    if (this.items.has(String(data.id))) return;
    if (!data.read) this.setUnread(this.unread + 1);
    if (this.loaded) this._add(data, { append: false });
    this.els.empty.hidden = true;
    // With the inbox open the new item is in view: no toast over it.
    if (!this.isOpen) toast(data.title || NOTIFICATION_TYPES[data.type] || '新通知', data.content);
  }

  _add(data, { append }) {
    const id = String(data.id);
    if (this.items.has(id)) return;
    const node = el('li', { 'data-id': id });
    this.items.set(id, { data, node });
    this._render(id);
    if (append) this.els.list.append(node);
    else this.els.list.prepend(node);
  }

  _render(id) {
    const { data, node } = this.items.get(id);
    node.className = data.read ? 'read' : 'unread';
    const head = el('div', 'n-head');
    if (!data.read) head.append(el('span', { class: 'dot', title: '未读' }));
    head.append(el('span', 'n-type', NOTIFICATION_TYPES[data.type] || data.type), el('span', 'n-title', data.title));
    const foot = el('div', 'n-foot');
    foot.append(el('time', { datetime: data.timestamp }, formatTime(data.timestamp)));
    if (!data.read) foot.append(button('标为已读', () => this.markRead(id), { class: 'link mark-read' }));
    else foot.append(el('span', null, '已读'));
    node.replaceChildren(head, el('p', 'n-body', data.content));
    if (data.extra?.status) node.append(el('p', 'n-body', `短剧状态：${dramaStatusText(data.extra.status)}`));
    node.append(foot);
  }

  async markRead(id) {
    const item = this.items.get(id);
    if (!item || item.data.read) return;
    try {
      await this.rest.post(`notifications/${encodeURIComponent(id)}/read/`);
    } catch {
      toast('操作失败', '未能标为已读，请稍后再试', { kind: 'error' });
      return;
    }
    item.data.read = true;
    this._render(id);
    this.setUnread(this.unread - 1);
    // Its button is gone: keep the keyboard in the inbox.
    (this.els.list.querySelector('button.mark-read') || this.els.close).focus();
  }

  async markAllRead() {
    const newest = [...this.items.keys()].sort((a, b) => b.length - a.length || (b > a ? 1 : -1))[0];
    try {
      await this.rest.post('notifications/read-all/', newest ? { upTo: newest } : {});
    } catch {
      toast('操作失败', '未能全部标为已读，请稍后再试', { kind: 'error' });
      return;
    }
    for (const [id, item] of this.items) {
      if (!item.data.read) {
        item.data.read = true;
        this._render(id);
      }
    }
    await this.refreshCount();
  }
}
