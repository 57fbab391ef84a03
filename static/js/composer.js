// The message input: Enter sends, Shift+Enter is a new line, a draft is kept per
// room, and it is locked (with the reason) when the room is closed, the user is
// banned, or muted (until the mute ends).

import { formatTime } from './i18n.js';

const HINTS = {
  drama_chat: '消息会作为弹幕，出现在当前集数与播放位置',
  live_stream: '消息会以弹幕飘过直播画面',
  ai_assistant: 'AI 助手会逐字回复你的问题',
};
const PLACEHOLDER = '说点什么…（Enter 发送）';

export class Composer {
  constructor({ form, input, send, hint, onSend }) {
    Object.assign(this, { form, input, send, hint, onSend });
    this.roomId = null;
    this.roomType = null;
    this.lockedFor = null; // why the room refuses messages (closed, banned)
    this.mutedFor = null; // {text, until}
    this.offline = false;
    this.onUnmute = null;
    this.muteTimer = null;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    input.addEventListener('keydown', (e) => {
      // Not while an input method (pinyin) is composing: Enter picks a candidate there.
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.submit();
      }
    });
    input.addEventListener('input', () => {
      this._grow();
      if (this.roomId) sessionStorage.setItem(this._draftKey(), input.value);
    });
  }

  _draftKey() {
    return `yyc3.draft.${this.roomId}`;
  }

  _grow() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 140)}px`;
  }

  open(roomId, roomType) {
    this.roomId = roomId;
    this.roomType = roomType;
    this.lockedFor = null;
    this._unmute(false);
    this.input.value = sessionStorage.getItem(this._draftKey()) || '';
    this._grow();
    this._render();
  }

  close() {
    this._unmute(false);
    this.roomId = null;
  }

  submit() {
    const text = this.input.value.replace(/\s+$/, '');
    if (!text.trim() || this.lockedFor || this.mutedFor) return;
    if (this.onSend(text)) {
      this.input.value = '';
      sessionStorage.removeItem(this._draftKey());
      this._grow();
    }
    this.input.focus();
  }

  /** Put a failed message's text back for editing (before what is typed now). */
  restore(text) {
    this.input.value = this.input.value ? `${text}\n${this.input.value}` : text;
    sessionStorage.setItem(this._draftKey(), this.input.value);
    this._grow();
    this.input.focus();
    this.input.setSelectionRange(text.length, text.length);
  }

  lock(reason) {
    this.lockedFor = reason;
    this._render();
  }

  unlockUnlessMuted() {
    this.lockedFor = null;
    this._render();
  }

  mute(text, until) {
    clearTimeout(this.muteTimer);
    this.mutedFor = { text, until };
    if (until) {
      const wait = until.getTime() - Date.now();
      this.muteTimer = setTimeout(() => this._unmute(true), Math.max(0, Math.min(wait, 2 ** 31 - 1)));
    }
    this._render();
  }

  /** The user's chat went through: whatever mute there was is over. */
  unmute() {
    if (this.mutedFor) this._unmute(true);
  }

  _unmute(notify) {
    clearTimeout(this.muteTimer);
    const was = this.mutedFor;
    this.mutedFor = null;
    this._render();
    if (was && notify) this.onUnmute?.();
  }

  setOffline(offline) {
    this.offline = offline;
    this._render();
  }

  _render() {
    const blocked = this.lockedFor || this.mutedFor?.text;
    this.input.disabled = !!blocked;
    this.send.disabled = !!blocked;
    this.form.classList.toggle('locked', !!blocked);
    this.input.placeholder = blocked || PLACEHOLDER;
    if (blocked) {
      const until = this.mutedFor?.until;
      this.hint.textContent = until && !this.lockedFor ? `禁言将于 ${formatTime(until)} 解除` : '';
    } else if (this.offline) {
      this.hint.textContent = '未连接：现在发送的消息会在重新连接后发出';
    } else {
      this.hint.textContent = HINTS[this.roomType] || '';
    }
  }
}
