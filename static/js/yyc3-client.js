/**
 * yyc3-client.js — the YYC3 realtime WebSocket client (plain ES module, no build step).
 *
 * Speaks the wire protocol of docs/protocol.md: connect and authenticate, heartbeat,
 * reconnect with backoff and jitter, re-join every room and resume each from its
 * last message id, promises for `requestId` answers, a pending/failed/sent state per
 * `clientMsgId` with retry, and proactive token refresh. API: docs/web-client.md.
 */

export const CLOSE = Object.freeze({
  AUTH: 4001,
  KICKED: 4003,
  POLICY: 4008,
  TOO_MANY: 4029,
  TOO_BIG: 1009,
  SERVER_ERROR: 1011,
  SLOW_READER: 1013,
});

/** The client's own close code when it drops a socket (heartbeat or connect timeout). */
const CLIENT_DROP = 4000;

const DEFAULTS = Object.freeze({
  url: null, // default: ws(s)://<page host>/ws
  apiBase: '/api',
  token: null,
  refreshToken: null,
  clientId: null,
  deviceType: 'web',
  lastNotificationId: null,
  heartbeatMs: 25000,
  pongTimeoutMs: 10000,
  connectTimeoutMs: 10000,
  requestTimeoutMs: 10000,
  ackTimeoutMs: 15000,
  reconnectMinMs: 1000,
  reconnectMaxMs: 30000,
  maxReconnectAttempts: Infinity,
  refreshLeadMs: 60000,
  resumePageSize: 100,
  resumeMaxPages: 20,
  maxFrameBytes: 16384,
  refresh: null, // async (refreshToken) => ({access, refresh?}); default: POST apiBase/auth/token/refresh/
  WebSocket: null, // default: globalThis.WebSocket
});

/** An error the server (or the client, for local reasons) gave a readable code to. */
export class ClientError extends Error {
  constructor(code, message, data = {}) {
    super(message || code);
    this.name = 'ClientError';
    this.code = code;
    this.data = data;
  }
}

/** Return a JWT's expiry in epoch milliseconds, or null when it cannot be read. */
export function tokenExpiresAt(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const payload = JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
    return typeof payload.exp === 'number' ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}

/** Return a random UUID (crypto.randomUUID is missing outside secure contexts). */
export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Compare two numeric id strings of any length ("9" < "10"). */
function numericIdCompare(a, b) {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Obtain tokens with a username and password (simplejwt). Throws ClientError. */
export async function obtainToken(username, password, { apiBase = '/api' } = {}) {
  let response;
  try {
    response = await fetch(`${apiBase}/auth/token/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ username, password }),
    });
  } catch (err) {
    throw new ClientError('network', String(err));
  }
  const body = await response.json().catch(() => null);
  if (response.ok && body?.access) return { access: body.access, refresh: body.refresh };
  const code =
    response.status === 401 ? 'invalid_credentials'
      : response.status === 429 ? 'throttled'
        : response.status === 400 ? 'invalid_request'
          : 'server_error';
  throw new ClientError(code, body?.detail || `HTTP ${response.status}`, { status: response.status });
}

class Emitter {
  constructor() {
    this._handlers = new Map();
  }

  /** Call `fn(data, frame)` for every event `type` ('*' for all); returns an unsubscribe. */
  on(type, fn) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    this._handlers.get(type)?.delete(fn);
  }

  /** Resolve with the next event `type`'s data. */
  once(type) {
    return new Promise((resolve) => {
      const off = this.on(type, (data) => {
        off();
        resolve(data);
      });
    });
  }

  emit(type, data, extra) {
    for (const key of [type, '*']) {
      for (const fn of [...(this._handlers.get(key) || [])]) {
        try {
          fn(data, extra ?? { type });
        } catch (err) {
          console.error(`yyc3-client: a "${type}" handler failed`, err);
        }
      }
    }
  }
}

/**
 * One connection to /ws, shared by every room the app joins.
 *
 * States: idle → connecting → authenticating → open; reconnecting between tries;
 * stopped after disconnect(), a terminal close (4003, or 4001 with no working
 * refresh token) or maxReconnectAttempts.
 */
export class WebSocketClient extends Emitter {
  constructor(options = {}) {
    super();
    this.options = { ...DEFAULTS, ...options };
    this.token = this.options.token;
    this.refreshToken = this.options.refreshToken;
    this.clientId = this.options.clientId || uuid();
    this.lastNotificationId = this.options.lastNotificationId;
    this.state = 'idle';
    this.userId = null;
    this.sessionId = null;
    this.stopReason = null;
    this._ws = null;
    this._attempt = 0;
    this._timers = { reconnect: null, heartbeat: null, pong: null, connect: null, refresh: null };
    this._requests = new Map(); // requestId -> {resolve, reject, timer}
    this._rooms = new Map(); // roomId -> room record
    this._outgoing = new Map(); // clientMsgId -> outgoing chat record
    this._refreshing = null;
    this._authFailures = 0;
    this._everOpened = false;
    this._onOnline = () => {
      if (this.state === 'reconnecting') this._openSocket();
    };
    globalThis.addEventListener?.('online', this._onOnline);
  }

  // --- connection -----------------------------------------------------------------

  /**
   * Connect (seed-compatible signature: `connect(url, token)`). Resolves with the
   * `auth_success` data; rejects when the client stops before authenticating.
   */
  connect(url, token) {
    if (url) this.options.url = url;
    if (token) this.token = token;
    if (this.state === 'open') return Promise.resolve({ userId: this.userId, sessionId: this.sessionId });
    this.stopReason = null;
    this._attempt = 0;
    const ready = new Promise((resolve, reject) => {
      const offOk = this.on('auth_success', (data) => {
        offOk();
        offStop();
        resolve(data);
      });
      const offStop = this.on('stopped', (info) => {
        offOk();
        offStop();
        reject(new ClientError(info.reason, info.message, info));
      });
    });
    if (this.state === 'idle' || this.state === 'stopped' || this.state === 'reconnecting') {
      this._openSocket();
    }
    return ready;
  }

  /** Close for good: no reconnect; pending chats stay pending until connect() again. */
  disconnect() {
    this._stop('manual', 'disconnected by the application', null, { failPending: false });
  }

  /** Replace the tokens (after a login elsewhere, or a refresh done by the app). */
  setTokens(access, refresh) {
    this.token = access;
    if (refresh !== undefined) this.refreshToken = refresh;
    this._authFailures = 0;
    this._scheduleRefresh();
    if (this.state === 'open' && access) this.send({ type: 'auth', token: access });
  }

  /** Refresh the access token now. Resolves true, or false when the refresh token was refused. */
  refreshNow() {
    if (!this._refreshing) {
      this._refreshing = this._refresh().finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing;
  }

  async _refresh() {
    if (!this.refreshToken) return false;
    let tokens;
    try {
      tokens = this.options.refresh
        ? await this.options.refresh(this.refreshToken)
        : await this._defaultRefresh();
    } catch (err) {
      if (err instanceof ClientError && err.code === 'refresh_refused') return false;
      throw err; // network trouble: the caller retries later
    }
    this.token = tokens.access;
    if (tokens.refresh) this.refreshToken = tokens.refresh;
    this.emit('tokens', { access: this.token, refresh: this.refreshToken });
    this._scheduleRefresh();
    if (this.state === 'open') this.send({ type: 'auth', token: this.token });
    return true;
  }

  async _defaultRefresh() {
    const response = await fetch(`${this.options.apiBase}/auth/token/refresh/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ refresh: this.refreshToken }),
    });
    const body = await response.json().catch(() => null);
    if (response.ok && body?.access) return body;
    if (response.status === 400 || response.status === 401) {
      throw new ClientError('refresh_refused', body?.detail || 'refresh token refused');
    }
    throw new ClientError('network', `HTTP ${response.status}`);
  }

  _scheduleRefresh() {
    clearTimeout(this._timers.refresh);
    const expires = this.token && tokenExpiresAt(this.token);
    if (!expires || !this.refreshToken || this.state === 'stopped') return;
    const left = expires - Date.now();
    // refreshLeadMs before expiry; for short-lived tokens at 80 % of what is left.
    const lead = this.options.refreshLeadMs;
    const wait = Math.min(2 ** 31 - 1, Math.max(1000, left > 2 * lead ? left - lead : left * 0.8));
    this._timers.refresh = setTimeout(async () => {
      try {
        if (!(await this.refreshNow())) this.emit('auth_expired', {});
      } catch {
        this._timers.refresh = setTimeout(() => this._scheduleRefresh(), 10000);
      }
    }, wait);
  }

  _url() {
    const base =
      this.options.url ||
      `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
    const query = new URLSearchParams({ clientId: this.clientId, deviceType: this.options.deviceType });
    return `${base}${base.includes('?') ? '&' : '?'}${query}`;
  }

  _setState(state, extra = {}) {
    this.state = state;
    this.emit('state', { state, ...extra });
  }

  async _openSocket() {
    this._clearConnectionTimers();
    if (this._ws) this._detach(this._ws, true);
    if (!this.token) {
      this._stop('auth', 'no access token', CLOSE.AUTH);
      return;
    }
    const expires = tokenExpiresAt(this.token);
    if (expires && expires < Date.now() + 5000 && this.refreshToken) {
      try {
        if (!(await this.refreshNow())) {
          this._stop('auth', 'the session expired', CLOSE.AUTH);
          return;
        }
      } catch {
        this._scheduleReconnect();
        return;
      }
    }
    const Impl = this.options.WebSocket || globalThis.WebSocket;
    this._setState('connecting', { attempt: this._attempt });
    let ws;
    try {
      ws = new Impl(this._url());
    } catch (err) {
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    this._timers.connect = setTimeout(() => this._drop('connect timeout'), this.options.connectTimeoutMs);
    ws.onopen = () => {
      this._setState('authenticating');
      // The token goes in the first message, not the URL: URLs end up in logs.
      const auth = { type: 'auth', token: this.token, clientId: this.clientId };
      if (this.lastNotificationId) auth.lastNotificationId = this.lastNotificationId;
      ws.send(JSON.stringify(auth));
    };
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => this._closed(event.code, event.reason);
    ws.onerror = () => {}; // a close event follows with the code
  }

  _detach(ws, close) {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    if (close && ws.readyState <= 1) {
      try {
        ws.close(CLIENT_DROP);
      } catch {
        /* already closing */
      }
    }
    if (this._ws === ws) this._ws = null;
  }

  /** Drop a socket that stopped answering, and reconnect. */
  _drop(why) {
    if (!this._ws) return;
    this._detach(this._ws, true);
    this._closed(CLIENT_DROP, why);
  }

  _clearConnectionTimers() {
    for (const key of ['reconnect', 'heartbeat', 'pong', 'connect']) {
      clearTimeout(this._timers[key]);
      clearInterval(this._timers[key]);
      this._timers[key] = null;
    }
  }

  _closed(code, reason) {
    if (this._ws) this._detach(this._ws, false);
    this._clearConnectionTimers();
    this._rejectRequests(new ClientError('disconnected', 'the connection closed', { code }));
    for (const room of this._rooms.values()) {
      if (room.status === 'joined' || room.status === 'joining') room.status = 'rejoin';
    }
    this.emit('close', { code, reason });
    if (this.state === 'stopped') return;
    if (code === CLOSE.KICKED) {
      this._stop('kicked', 'removed by a moderator', code);
    } else if (code === CLOSE.AUTH) {
      this._authFailed(code);
    } else {
      this._scheduleReconnect(code === CLOSE.TOO_MANY ? 10000 : 0);
    }
  }

  async _authFailed(code) {
    // One refresh per failure streak: a refreshed token refused again is final.
    this._authFailures += 1;
    if (this.refreshToken && this._authFailures <= 1) {
      try {
        if (await this.refreshNow()) {
          this._openSocket();
          return;
        }
      } catch {
        this._scheduleReconnect();
        return;
      }
    }
    this._stop('auth', 'the session expired', code);
  }

  _scheduleReconnect(floorMs = 0) {
    if (this.state === 'stopped') return;
    if (this._attempt >= this.options.maxReconnectAttempts) {
      this._stop('gave_up', 'too many reconnect attempts', null);
      return;
    }
    const { reconnectMinMs: min, reconnectMaxMs: max } = this.options;
    const ceiling = Math.min(max, min * 2 ** this._attempt);
    // "Equal jitter": half fixed, half random, so clients spread out after a restart.
    const delay = Math.max(floorMs, Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
    this._attempt += 1;
    this._setState('reconnecting', { attempt: this._attempt, delayMs: delay });
    clearTimeout(this._timers.reconnect);
    this._timers.reconnect = setTimeout(() => this._openSocket(), delay);
  }

  /** Reconnect now instead of waiting for the backoff (e.g. a "reconnect" button). */
  reconnectNow() {
    if (this.state === 'open' || this.state === 'connecting' || this.state === 'authenticating') return;
    this.stopReason = null;
    this._attempt = 0;
    this._openSocket();
  }

  _stop(reason, message, code, { failPending = true } = {}) {
    this.stopReason = reason;
    if (this._ws) this._detach(this._ws, true);
    this._clearConnectionTimers();
    clearTimeout(this._timers.refresh);
    this._rejectRequests(new ClientError('disconnected', message, { code }));
    for (const room of this._rooms.values()) {
      if (room.status === 'joined' || room.status === 'joining') room.status = 'rejoin';
    }
    if (failPending) {
      for (const out of this._outgoing.values()) {
        if (out.status === 'pending') this._fail(out, { code: 'disconnected', message, closeCode: code });
      }
    }
    const wasStopped = this.state === 'stopped';
    this._setState('stopped', { reason, code });
    if (!wasStopped) this.emit('stopped', { reason, message, code });
  }

  _startHeartbeat() {
    clearInterval(this._timers.heartbeat);
    this._timers.heartbeat = setInterval(() => {
      this.ping().catch(() => {});
      clearTimeout(this._timers.pong);
      this._timers.pong = setTimeout(() => this._drop('no pong'), this.options.pongTimeoutMs);
    }, this.options.heartbeatMs);
  }

  // --- sending --------------------------------------------------------------------

  /** Send a frame as is (seed-compatible). Returns whether it went out. */
  send(frame) {
    if (!this._ws || this._ws.readyState !== 1) return false;
    this._ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    return true;
  }

  /**
   * Send a frame with a fresh `requestId` and resolve with its direct answer
   * (pong, room_state, history); reject with a ClientError on its `error`.
   */
  request(frame, { timeoutMs = this.options.requestTimeoutMs } = {}) {
    const requestId = frame.requestId || uuid();
    return new Promise((resolve, reject) => {
      if (this.state !== 'open' || !this.send({ ...frame, requestId })) {
        reject(new ClientError('disconnected', 'not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this._requests.delete(requestId);
        reject(new ClientError('timeout', 'no answer in time'));
      }, timeoutMs);
      this._requests.set(requestId, { resolve, reject, timer });
    });
  }

  _rejectRequests(error) {
    for (const [id, pending] of this._requests) {
      clearTimeout(pending.timer);
      pending.reject(error);
      this._requests.delete(id);
    }
  }

  /** Resolve with the round-trip time in milliseconds. */
  async ping() {
    const started = Date.now();
    await this.request({ type: 'ping', timestamp: started });
    clearTimeout(this._timers.pong);
    return Date.now() - started;
  }

  // --- rooms ----------------------------------------------------------------------

  /** The client's record of a room: {roomId, roomType, status, onlineCount, lastMessageId}. */
  room(roomId) {
    const room = this._rooms.get(roomId);
    if (!room) return undefined;
    const { roomType, status, onlineCount, lastMessageId } = room;
    return { roomId, roomType, status, onlineCount, lastMessageId };
  }

  get rooms() {
    return [...this._rooms.keys()].map((id) => this.room(id));
  }

  _roomRecord(roomId) {
    let room = this._rooms.get(roomId);
    if (!room) {
      room = {
        roomId,
        roomType: null,
        status: 'new',
        onlineCount: null,
        lastMessageId: null,
        seen: new Set(),
        seenOrder: [],
        waiters: [],
      };
      this._rooms.set(roomId, room);
    }
    return room;
  }

  /**
   * Join a room (kept across reconnects until leaveRoom) and resolve with its
   * `room_state` data. Rejects with a ClientError: room_not_found, forbidden,
   * room_closed, room_type_mismatch.
   */
  joinRoom(roomId, roomType) {
    const room = this._roomRecord(roomId);
    if (roomType) room.roomType = roomType;
    return new Promise((resolve, reject) => {
      room.waiters.push({ resolve, reject });
      if (room.status === 'joining') return;
      room.status = 'rejoin';
      if (this.state === 'open') this._join(room);
    });
  }

  async _join(room) {
    room.status = 'joining';
    const data = { roomId: room.roomId };
    if (room.roomType) data.roomType = room.roomType;
    const resumeFrom = room.lastMessageId;
    // Sent for servers that resume on join; the history request below covers the rest.
    if (resumeFrom) data.lastMessageId = resumeFrom;
    let state;
    try {
      const answer = await this.request({ type: 'join_room', data });
      state = answer.data;
    } catch (err) {
      if (err.code === 'disconnected' || err.code === 'timeout') {
        if (room.status === 'joining') room.status = 'rejoin';
        if (err.code === 'timeout') this._drop('join timeout');
        return;
      }
      room.status = { room_closed: 'closed', forbidden: 'forbidden' }[err.code] || 'failed';
      this.emit('room_status', { roomId: room.roomId, status: room.status, error: err });
      for (const out of this._outgoing.values()) {
        if (out.roomId === room.roomId && out.status === 'pending') this._fail(out, err);
      }
      for (const w of room.waiters.splice(0)) w.reject(err);
      return;
    }
    if (room.status !== 'joining') return; // left meanwhile
    const rejoined = !!room.everJoined;
    room.status = 'joined';
    room.everJoined = true;
    room.roomType = state.roomType;
    room.onlineCount = state.onlineCount;
    for (const chat of state.recent || []) this._remember(room, chat);
    this.emit('room_state', state, { type: 'room_state', data: state, rejoined });
    this.emit('room_status', { roomId: room.roomId, status: 'joined' });
    for (const w of room.waiters.splice(0)) w.resolve(state);
    if (resumeFrom) await this._resume(room, resumeFrom);
    this._flushOutgoing(room.roomId);
  }

  async _resume(room, after) {
    let cursor = after;
    let count = 0;
    for (let page = 0; page < this.options.resumeMaxPages; page++) {
      let answer;
      try {
        answer = await this.history(room.roomId, { after: cursor, limit: this.options.resumePageSize });
      } catch {
        return; // the connection went: the next join resumes again
      }
      for (const chat of answer.messages) {
        if (this._remember(room, chat)) {
          count += 1;
          this._ackOutgoing(chat);
          this.emit('chat', chat, { type: 'chat', data: chat, resumed: true });
        }
      }
      const last = answer.messages[answer.messages.length - 1];
      if (!answer.hasMore || !last) break;
      cursor = last.id;
    }
    this.emit('resumed', { roomId: room.roomId, after, count });
  }

  /** Leave a room: no re-join after a reconnect; no answer is awaited. */
  leaveRoom(roomId) {
    const room = this._rooms.get(roomId);
    if (!room) return Promise.resolve();
    this._rooms.delete(roomId);
    for (const w of room.waiters.splice(0)) w.reject(new ClientError('left', 'left the room'));
    if (room.status === 'joined' || room.status === 'joining') {
      this.send({ type: 'leave_room', data: { roomId } });
    }
    room.status = 'left'; // a join still in flight ends quietly
    return Promise.resolve();
  }

  /** Resolve with `{roomId, messages, hasMore}` (oldest first); needs no join. */
  async history(roomId, query = {}) {
    const data = { roomId };
    for (const key of ['before', 'after', 'limit', 'episode', 'fromMs', 'toMs']) {
      if (query[key] !== undefined && query[key] !== null) data[key] = query[key];
    }
    const answer = await this.request({ type: 'history', data });
    return answer.data;
  }

  /** Record a chat id; return false when it was seen before (de-duplication). */
  _remember(room, chat) {
    if (!chat || chat.id == null) return true;
    const id = String(chat.id);
    if (room.seen.has(id)) return false;
    room.seen.add(id);
    room.seenOrder.push(id);
    if (room.seenOrder.length > 5000) room.seen.delete(room.seenOrder.shift());
    // Only id-ordered sources reach here (live, recent, resume), never a
    // playback-ordered danmaku page.
    if (!room.lastMessageId || id > room.lastMessageId) room.lastMessageId = id;
    return true;
  }

  // --- chat -----------------------------------------------------------------------

  /**
   * Send a chat and return its outgoing record {clientMsgId, roomId, message,
   * status: 'pending'|'sent'|'failed', error, data}. Status changes arrive as
   * `chat_status` events; `record.done` resolves with the stored chat or rejects.
   * While offline the chat waits (pending) and goes out after the room is re-joined.
   */
  sendChat(roomId, message, { messageType = 'text', episode, playbackMs, clientMsgId } = {}) {
    const out = {
      clientMsgId: clientMsgId || uuid(),
      roomId,
      message,
      messageType,
      episode,
      playbackMs,
      status: 'pending',
      error: null,
      data: null,
      attempts: 0,
    };
    this._outgoing.set(out.clientMsgId, out);
    this._arm(out);
    this._transmit(out);
    this.emit('chat_status', this._public(out));
    return this._public(out);
  }

  /** Seed-compatible: `sendChatMessage(roomId, message, messageType)`. */
  sendChatMessage(roomId, message, messageType = 'text') {
    return this.sendChat(roomId, message, { messageType });
  }

  /** Send a failed chat again with the same clientMsgId (the server stores it once). */
  retryChat(clientMsgId) {
    const out = this._outgoing.get(clientMsgId);
    if (!out) throw new ClientError('unknown_message', 'no such outgoing message');
    if (out.status === 'sent') return this._public(out);
    out.status = 'pending';
    out.error = null;
    this._arm(out);
    this._transmit(out);
    this.emit('chat_status', this._public(out));
    return this._public(out);
  }

  /** Forget an outgoing chat (the user deleted or edited the failed bubble). */
  discardChat(clientMsgId) {
    const out = this._outgoing.get(clientMsgId);
    if (!out) return;
    this._outgoing.delete(clientMsgId);
    clearTimeout(out.timer);
    out.reject?.(new ClientError('discarded', 'discarded'));
  }

  outgoing(clientMsgId) {
    const out = this._outgoing.get(clientMsgId);
    return out && this._public(out);
  }

  /** The chats of a room not yet stored: pending or failed, oldest first. */
  unsentChats(roomId) {
    return [...this._outgoing.values()]
      .filter((out) => out.roomId === roomId && out.status !== 'sent')
      .map((out) => this._public(out));
  }

  _arm(out) {
    out.done = new Promise((resolve, reject) => {
      out.resolve = resolve;
      out.reject = reject;
    });
    out.done.catch(() => {}); // a failure is reported through chat_status too
  }

  _public(out) {
    const { clientMsgId, roomId, message, messageType, episode, playbackMs, status, error, data, done } = out;
    return { clientMsgId, roomId, message, messageType, episode, playbackMs, status, error, data, done };
  }

  _transmit(out) {
    const room = this._rooms.get(out.roomId);
    if (this.state !== 'open' || room?.status !== 'joined') return; // goes out after the join
    const data = { roomId: out.roomId, message: out.message, messageType: out.messageType, clientMsgId: out.clientMsgId };
    if (out.episode != null && out.playbackMs != null) {
      data.episode = out.episode;
      data.playbackMs = Math.max(0, Math.round(out.playbackMs));
    }
    // requestId = clientMsgId: the server echoes it on this chat's error frame.
    const text = JSON.stringify({ type: 'chat', data, requestId: out.clientMsgId });
    if (new TextEncoder().encode(text).length > this.options.maxFrameBytes) {
      // The server would close the socket (1009): refuse it here instead.
      this._fail(out, { code: 'message_too_long', message: 'frame too large' });
      return;
    }
    out.attempts += 1;
    this.send(text);
    clearTimeout(out.timer);
    out.timer = setTimeout(() => {
      if (out.status === 'pending' && this.state === 'open') {
        this._fail(out, { code: 'timeout', message: 'no acknowledgement in time' });
      }
    }, this.options.ackTimeoutMs);
  }

  _flushOutgoing(roomId) {
    for (const out of this._outgoing.values()) {
      if (out.roomId === roomId && out.status === 'pending') this._transmit(out);
    }
  }

  _fail(out, error) {
    clearTimeout(out.timer);
    out.status = 'failed';
    out.error = error instanceof ClientError ? { code: error.code, message: error.message, ...error.data } : error;
    out.reject(new ClientError(out.error.code, out.error.message, out.error));
    this.emit('chat_status', this._public(out));
  }

  _ackOutgoing(chat) {
    if (!chat.clientMsgId || String(chat.senderId) !== this.userId) return;
    const out = this._outgoing.get(chat.clientMsgId);
    if (!out || out.status === 'sent') return;
    clearTimeout(out.timer);
    out.status = 'sent';
    out.error = null;
    out.data = chat;
    out.resolve(chat);
    this.emit('chat_status', this._public(out));
    // Keep a short memory of sent ids, not every message ever sent.
    setTimeout(() => this._outgoing.delete(out.clientMsgId), 60000);
  }

  // --- receiving ------------------------------------------------------------------

  _receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return;
    clearTimeout(this._timers.pong); // any frame shows the connection is alive
    const data = frame.data || {};
    const pending = frame.requestId && this._requests.get(frame.requestId);
    if (pending) {
      this._requests.delete(frame.requestId);
      clearTimeout(pending.timer);
      if (frame.type === 'error') pending.reject(new ClientError(data.code, data.message, data));
      else pending.resolve(frame);
      // Answers to join_room are emitted by _join once the room record is updated.
      if (frame.type === 'room_state' || frame.type === 'pong' || frame.type === 'error') return;
      if (frame.type === 'history') return;
    }
    const handler = this._frameHandlers[frame.type];
    if (handler) handler.call(this, data, frame);
    else this.emit(frame.type, data, frame);
  }

  _noteNotification(id) {
    if (id == null) return;
    const sid = String(id);
    if (!/^[0-9]+$/.test(sid)) return;
    if (!this.lastNotificationId || numericIdCompare(sid, String(this.lastNotificationId)) > 0) {
      this.lastNotificationId = sid;
    }
  }
}

WebSocketClient.prototype._frameHandlers = {
  auth_success(data, frame) {
    const first = this.state !== 'open';
    this.userId = String(data.userId);
    this.sessionId = data.sessionId;
    this._authFailures = 0;
    clearTimeout(this._timers.connect);
    if (!first) {
      this.emit('reauthenticated', data, frame); // after a token refresh on this socket
      return;
    }
    const wasReconnect = this._attempt > 0 || this._everOpened;
    this._everOpened = true;
    this._attempt = 0;
    this._setState('open', { reconnected: wasReconnect });
    this._startHeartbeat();
    this._scheduleRefresh();
    this.emit('auth_success', data, { ...frame, reconnected: wasReconnect });
    for (const room of this._rooms.values()) {
      if (room.status === 'rejoin' || room.status === 'new') this._join(room);
    }
  },

  auth_error(data, frame) {
    this.emit('auth_error', data, frame); // the close (4001) follows
  },

  room_state(data, frame) {
    // A join answered again, or a server that sends it unasked.
    const room = this._rooms.get(data.roomId);
    if (room) {
      room.onlineCount = data.onlineCount;
      for (const chat of data.recent || []) this._remember(room, chat);
    }
    this.emit('room_state', data, frame);
  },

  chat(data, frame) {
    const room = this._rooms.get(data.roomId);
    this._ackOutgoing(data);
    if (room && !this._remember(room, data)) return;
    this.emit('chat', data, frame);
  },

  history(data, frame) {
    // Unasked history (a server that resumes on join): treat as resumed chats.
    const room = this._rooms.get(data.roomId);
    for (const chat of data.messages || []) {
      if (room && !this._remember(room, chat)) continue;
      this._ackOutgoing(chat);
      this.emit('chat', chat, { type: 'chat', data: chat, resumed: true });
    }
    this.emit('history', data, frame);
  },

  user_joined(data, frame) {
    this._countPresence(data, +1);
    this.emit('user_joined', data, frame);
  },

  user_left(data, frame) {
    this._countPresence(data, -1);
    this.emit('user_left', data, frame);
  },

  presence(data, frame) {
    const room = this._rooms.get(data.roomId);
    if (room) room.onlineCount = data.onlineCount;
    this.emit('presence', data, frame);
    this.emit('online', { roomId: data.roomId, onlineCount: data.onlineCount });
  },

  notification(data, frame) {
    this._noteNotification(data.id);
    this.emit('notification', data, frame);
  },

  notification_summary(data, frame) {
    this._noteNotification(data.latestId);
    this.emit('notification_summary', data, frame);
  },

  error(data, frame) {
    const out = frame.requestId && this._outgoing.get(frame.requestId);
    if (out) {
      this._fail(out, { ...data });
      return;
    }
    if (data.code === 'room_closed' && data.roomId) {
      // Pushed when a moderator closes a joined room: the server left it for us.
      const room = this._rooms.get(data.roomId);
      if (room) {
        room.status = 'closed';
        for (const o of this._outgoing.values()) {
          if (o.roomId === data.roomId && o.status === 'pending') this._fail(o, { ...data });
        }
        this.emit('room_status', { roomId: data.roomId, status: 'closed', error: data });
      }
    }
    this.emit('error', data, frame);
  },
};

WebSocketClient.prototype._countPresence = function countPresence(data, delta) {
  const room = this._rooms.get(data.roomId);
  // Our own join is already in room_state's count; another user's is not.
  if (!room || room.status !== 'joined' || String(data.userId) === this.userId) return;
  if (typeof room.onlineCount === 'number') {
    room.onlineCount = Math.max(1, room.onlineCount + delta);
    this.emit('online', { roomId: data.roomId, onlineCount: room.onlineCount });
  }
};

/**
 * A small REST helper sharing the socket client's tokens: adds the bearer token,
 * refreshes once on 401 and retries. Throws ClientError('unauthorized') when the
 * session is over, ClientError('http_<status>') otherwise.
 */
export class RestClient {
  constructor(client, { apiBase = client.options.apiBase } = {}) {
    this.client = client;
    this.apiBase = apiBase;
  }

  async request(method, path, body) {
    const url = path.startsWith('http') || path.startsWith('/') ? path : `${this.apiBase}/${path}`;
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await fetch(url, {
          method,
          headers: {
            Authorization: `Bearer ${this.client.token}`,
            Accept: 'application/json',
            ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : undefined,
        });
      } catch (err) {
        throw new ClientError('network', String(err));
      }
      if (response.status === 401 && attempt === 0) {
        let refreshed = false;
        try {
          refreshed = await this.client.refreshNow();
        } catch {
          throw new ClientError('network', 'token refresh failed');
        }
        if (refreshed) continue;
      }
      const json = await response.json().catch(() => null);
      if (response.status === 401) throw new ClientError('unauthorized', json?.detail || 'unauthorized');
      if (!response.ok) {
        throw new ClientError(`http_${response.status}`, json?.detail || `HTTP ${response.status}`, { status: response.status });
      }
      return json;
    }
  }

  get(path) {
    return this.request('GET', path);
  }

  post(path, body = {}) {
    return this.request('POST', path, body);
  }
}
