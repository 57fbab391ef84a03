// The message list of the open room: chats in id order, the user's own outgoing
// chats (pending / failed) after them, and the assistant's reply as it streams.

import { button, el } from './dom.js';
import { errorText, formatPlayback, formatTime, mutedUntil, retryable } from './i18n.js';

const NEAR_BOTTOM_PX = 80;

export class MessageList {
  constructor({ list, scroller, jump, onRetry, onEdit, onDiscard }) {
    Object.assign(this, { list, scroller, jump, onRetry, onEdit, onDiscard });
    this.me = null;
    this.reset();
    jump.addEventListener('click', () => this.scrollToEnd());
    scroller.addEventListener('scroll', () => {
      if (this.atBottom()) this._hideJump();
    });
  }

  reset() {
    for (const s of this.streams?.values() || []) clearInterval(s.timer);
    this.entries = []; // [{key, node}] sorted by key (chat ids compare as strings)
    this.byId = new Map();
    this.outgoing = new Map(); // clientMsgId -> node
    this.streams = new Map(); // AI stream id -> {node, text, shown, final, timer}
    this.sysCount = 0;
    this.unseen = 0;
    this.list.replaceChildren();
    this._hideJump();
  }

  oldestId() {
    return this.entries.find((e) => e.id)?.id || null;
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this._hideJump();
  }

  _hideJump() {
    this.unseen = 0;
    this.jump.hidden = true;
  }

  /** Run `change`; keep the view at the bottom if it was there (or `force`). */
  _stick(change, { force = false, counts = 0, older = false } = {}) {
    const wasAtBottom = this.atBottom();
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    change();
    if (older && !wasAtBottom) {
      this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
    } else if (force || wasAtBottom) {
      this.scrollToEnd();
    } else if (counts) {
      this.unseen += counts;
      this.jump.textContent = `有 ${this.unseen} 条新消息 ↓`;
      this.jump.hidden = false;
    }
  }

  /** The first of the trailing outgoing/streaming nodes (they stay last). */
  _tailNode() {
    let first = null;
    for (let node = this.list.lastElementChild; node?.dataset.tail; node = node.previousElementSibling) {
      first = node;
    }
    return first;
  }

  _insert(key, id, node) {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid].key < key) lo = mid + 1;
      else hi = mid;
    }
    const next = this.entries[lo]?.node || this._tailNode();
    this.entries.splice(lo, 0, { key, id, node });
    this.list.insertBefore(node, next);
  }

  /** Add a stored chat (live, recent or history); a second copy of an id is ignored. */
  addChat(chat, { older = false, force = false } = {}) {
    if (!chat || chat.id == null || this.byId.has(String(chat.id))) return false;
    const id = String(chat.id);
    const own = this.me != null && String(chat.senderId) === this.me;
    const node = this._chatNode(chat, own);
    this._stick(() => {
      const pending = chat.clientMsgId && own && this.outgoing.get(chat.clientMsgId);
      if (pending) {
        pending.remove();
        this.outgoing.delete(chat.clientMsgId);
      }
      this.byId.set(id, node);
      this._insert(id, id, node);
    }, { force: force || own, counts: older ? 0 : 1, older });
    return true;
  }

  _chatNode(chat, own) {
    const ai = chat.senderId === 'assistant';
    const node = el('li', { class: `msg${own ? ' own' : ''}${ai ? ' ai' : ''}`, 'data-id': chat.id });
    const meta = el('div', 'meta');
    meta.append(el('span', 'name', own ? `${chat.senderName || '我'}（我）` : chat.senderName || chat.senderId));
    meta.append(el('time', { datetime: chat.timestamp, title: chat.timestamp }, formatTime(chat.timestamp)));
    if (chat.episode != null && chat.playbackMs != null) {
      meta.append(el('span', 'anchor', `第${chat.episode}集 ${formatPlayback(chat.playbackMs)}`));
    }
    node.append(meta, this._bubble(chat.message, chat.messageType));
    return node;
  }

  _bubble(text, type) {
    const bubble = el('div', 'bubble');
    if (type === 'image' && /^https:\/\/\S+$/.test(text)) {
      const img = el('img', { alt: '图片', loading: 'lazy', referrerpolicy: 'no-referrer' });
      img.src = text;
      bubble.append(img);
    } else {
      bubble.textContent = text ?? '';
    }
    return bubble;
  }

  /** Show or update one of the user's own outgoing chats (see WebSocketClient.sendChat). */
  showOutgoing(out) {
    if (out.status === 'sent') {
      if (out.data) this.addChat(out.data, { force: true });
      return;
    }
    let node = this.outgoing.get(out.clientMsgId);
    if (!node) {
      node = el('li', { class: 'msg own', 'data-client-msg-id': out.clientMsgId, 'data-tail': '1' });
      const meta = el('div', 'meta');
      meta.append(el('span', 'name', '我'));
      if (out.episode != null && out.playbackMs != null) {
        meta.append(el('span', 'anchor', `第${out.episode}集 ${formatPlayback(out.playbackMs)}`));
      }
      node.append(meta, this._bubble(out.message, out.messageType), el('div', 'state'));
      this.outgoing.set(out.clientMsgId, node);
      this._stick(() => this.list.append(node), { force: true });
    }
    node.classList.toggle('pending', out.status === 'pending');
    node.classList.toggle('failed', out.status === 'failed');
    const state = node.querySelector('.state');
    clearInterval(node._countdown);
    state.replaceChildren();
    if (out.status === 'pending') {
      state.textContent = '发送中…';
      return;
    }
    state.append(el('span', 'why', `发送失败：${errorText(out.error)}`));
    if (retryable(out.error)) {
      const retry = button('重试', () => this.onRetry(out.clientMsgId), { class: 'link retry' });
      state.append(retry);
      this._countdown(node, retry, out.error);
    }
    state.append(
      button('编辑', () => this.onEdit(out.clientMsgId), { class: 'link edit' }),
      button('删除', () => this.onDiscard(out.clientMsgId), { class: 'link discard' }),
    );
  }

  _countdown(node, retry, error) {
    let until = 0;
    if (error.code === 'rate_limited' && error.retryAfterMs) until = Date.now() + Number(error.retryAfterMs);
    if (error.code === 'muted') until = mutedUntil(error)?.getTime() || 0;
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      retry.disabled = left > 0;
      const wait = left >= 120 ? `${Math.ceil(left / 60)} 分钟` : `${left} 秒`;
      retry.textContent = left > 0 ? `重试（${wait}）` : '重试';
      if (left <= 0) clearInterval(node._countdown);
    };
    if (until > Date.now()) {
      tick();
      node._countdown = setInterval(tick, 250);
    }
  }

  removeOutgoing(clientMsgId) {
    this.outgoing.get(clientMsgId)?.remove();
    this.outgoing.delete(clientMsgId);
  }

  /** A system line (someone joined, the room closed...), after what is shown now. */
  addSystem(text) {
    const last = this.entries[this.entries.length - 1];
    const key = `${last ? last.key : ''}~${String(++this.sysCount).padStart(6, '0')}`;
    this._stick(() => this._insert(key, null, el('li', 'sysline', text)));
  }

  markDeleted(messageId) {
    const node = this.byId.get(String(messageId));
    if (!node) return;
    node.classList.add('deleted');
    node.querySelector('.anchor')?.remove();
    node.querySelector('.bubble').replaceChildren('此消息已被管理员删除');
  }

  // --- the assistant's streamed reply ------------------------------------------------

  aiDelta(data) {
    const id = String(data.id);
    let s = this.streams.get(id);
    if (!s) {
      const node = el('li', { class: 'msg ai streaming', 'data-stream-id': id, 'data-tail': '1' });
      const meta = el('div', 'meta');
      meta.append(el('span', 'name', 'AI助手'), el('span', null, '正在输入…'));
      node.append(meta, el('div', 'bubble'));
      s = { node, text: '', shown: 0, final: null, timer: null };
      this.streams.set(id, s);
      this._stick(() => this.list.append(node));
    }
    s.text += data.delta ?? '';
    this._reveal(id, s);
  }

  /** The stored reply arrived: it replaces the streaming bubble once that finished showing. */
  aiFinal(chat) {
    const s = this.streams.get(String(chat.streamId));
    if (!s) return this.addChat(chat);
    s.final = chat;
    if (chat.message.length > s.text.length) s.text = chat.message;
    this._reveal(String(chat.streamId), s);
    return true;
  }

  aiFailed(streamId, error) {
    const s = this.streams.get(String(streamId));
    if (s) {
      clearInterval(s.timer);
      s.node.remove();
      this.streams.delete(String(streamId));
    }
    this.addSystem(errorText(error));
  }

  _reveal(id, s) {
    if (s.timer) return;
    // Show the reply at reading pace even when the backend sent it all at once.
    s.timer = setInterval(() => {
      const left = s.text.length - s.shown;
      if (left > 0) {
        s.shown += Math.max(2, Math.ceil(left / 60));
        this._stick(() => {
          s.node.querySelector('.bubble').textContent = s.text.slice(0, s.shown);
        });
        return;
      }
      if (!s.final) return;
      clearInterval(s.timer);
      s.node.remove();
      this.streams.delete(id);
      this.addChat(s.final);
    }, 30);
  }
}
