// The web chat page: sign-in, rooms, messages, danmaku, notifications — on the
// WebSocketClient of yyc3-client.js. User content is always text, never HTML.

import { RestClient, WebSocketClient, obtainToken, uuid } from './yyc3-client.js';
import { $, toast } from './dom.js';
import { closeText, dramaUpdateText, errorText, formatTime, loginErrorText, mutedUntil, stopText } from './i18n.js';
import { Inbox } from './inbox.js';
import { MessageList } from './messages.js';
import { Members, RoomList, typeTag } from './rooms.js';
import { DanmakuLayer, DramaPlayer } from './stage.js';
import { Composer } from './composer.js';

const API = document.body.dataset.api || '/api';
const KEYS = { access: 'yyc3.access', refresh: 'yyc3.refresh', user: 'yyc3.username', room: 'yyc3.lastRoom', client: 'yyc3.clientId' };

let client = null;
let rest = null;
let current = null; // the open room: {roomId, roomType, title, status, onlineCount, muted}

// --- views, made once ---------------------------------------------------------------

const layer = new DanmakuLayer($('danmaku'));
const list = new MessageList({
  list: $('messages'),
  scroller: $('scroller'),
  jump: $('jump'),
  onRetry: (id) => client.retryChat(id),
  onEdit: (id) => {
    const out = client.outgoing(id);
    client.discardChat(id);
    list.removeOutgoing(id);
    if (out) composer.restore(out.message);
  },
  onDiscard: (id) => {
    client.discardChat(id);
    list.removeOutgoing(id);
  },
});
const restProxy = { get: (p) => rest.get(p), post: (p, b) => rest.post(p, b) };
const rooms = new RoomList({ rest: restProxy, els: { list: $('room-list'), refresh: $('rooms-refresh') }, onSelect: openRoom });
const members = new Members({
  rest: restProxy,
  els: {
    panel: $('members'), list: $('member-list'), summary: $('members-summary'),
    more: $('members-more'), toggle: $('members-toggle'), close: $('members-close'),
  },
});
const inbox = new Inbox({
  rest: restProxy,
  els: {
    panel: $('inbox'), list: $('inbox-list'), empty: $('inbox-empty'), more: $('inbox-more'),
    readAll: $('inbox-read-all'), badge: $('unread'), toggle: $('inbox-toggle'), close: $('inbox-close'),
  },
});
const player = new DramaPlayer({
  client: { history: (...a) => client.history(...a), get userId() { return client?.userId; } },
  layer,
  els: { play: $('play'), seek: $('seek'), clock: $('clock'), episode: $('episode'), caption: $('screen-caption') },
});
const composer = new Composer({
  form: $('composer'),
  input: $('composer-input'),
  send: $('composer-send'),
  hint: $('composer-hint'),
  onSend: sendChat,
});

composer.onUnmute = () => {
  if (current) current.muted = false;
  hideNotice();
};

$('danmaku-on').addEventListener('change', (e) => layer.setVisible(e.target.checked));
$('older').addEventListener('click', loadOlder);
$('logout').addEventListener('click', () => logout(''));
$('conn-retry').addEventListener('click', () => client?.reconnectNow());
$('rooms-toggle').addEventListener('click', () => setRoomsOpen(!$('app').classList.contains('rooms-open')));
$('room').addEventListener('click', () => setRoomsOpen(false)); // a tap beside the drawer
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  // The topmost thing open closes first.
  if (inbox.isOpen) inbox.close();
  else if (!$('members').hidden) members.close();
  else if ($('app').classList.contains('rooms-open')) setRoomsOpen(false);
});

function setRoomsOpen(open) {
  $('app').classList.toggle('rooms-open', open);
  $('rooms-toggle').setAttribute('aria-expanded', String(open));
  if (open) $('sidebar').querySelector('button[data-room-id]')?.focus();
}

// --- sign in and out ----------------------------------------------------------------

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  const error = $('login-error');
  error.textContent = '';
  if (!username || !password) {
    error.textContent = '请输入用户名和密码';
    return;
  }
  $('login-submit').disabled = true;
  try {
    const tokens = await obtainToken(username, password, { apiBase: API });
    localStorage.setItem(KEYS.access, tokens.access);
    localStorage.setItem(KEYS.refresh, tokens.refresh);
    localStorage.setItem(KEYS.user, username);
    $('login-password').value = '';
    start();
  } catch (err) {
    error.textContent = loginErrorText(err);
  } finally {
    $('login-submit').disabled = false;
  }
});

function showLogin(message) {
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-username').value = localStorage.getItem(KEYS.user) || '';
  $('login-error').textContent = message || '';
  ($('login-username').value ? $('login-password') : $('login-username')).focus();
}

function logout(message) {
  client?.disconnect();
  client = null;
  for (const key of [KEYS.access, KEYS.refresh]) localStorage.removeItem(key);
  closeRoom();
  rooms.stop();
  inbox.reset();
  showLogin(message);
}

function clientId() {
  const id = localStorage.getItem(KEYS.client) || uuid();
  localStorage.setItem(KEYS.client, id);
  return id;
}

function start() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('me').textContent = localStorage.getItem(KEYS.user) || '';
  client = new WebSocketClient({
    apiBase: API,
    token: localStorage.getItem(KEYS.access),
    refreshToken: localStorage.getItem(KEYS.refresh),
    clientId: clientId(),
  });
  rest = new RestClient(client);
  wire(client);
  client.connect().catch(() => {});
  rooms.load().then(openInitialRoom, (err) => {
    if (err.code === 'unauthorized') logout('登录已过期，请重新登录');
  });
}

function openInitialRoom() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('room');
  const wanted = fromHash || localStorage.getItem(KEYS.room);
  const room = wanted && rooms.find(wanted);
  if (room) openRoom(room);
  else if (matchMedia('(max-width: 760px)').matches) setRoomsOpen(true);
}

// --- the connection -------------------------------------------------------------------

function wire(c) {
  c.on('tokens', ({ access, refresh }) => {
    localStorage.setItem(KEYS.access, access);
    if (refresh) localStorage.setItem(KEYS.refresh, refresh);
  });
  c.on('state', renderConnection);
  c.on('close', ({ code }) => {
    const text = closeText(code);
    if (text) toast('连接已断开', text, { kind: 'error' });
  });
  c.on('stopped', onStopped);
  c.on('auth_success', (_data, frame) => {
    list.me = c.userId;
    inbox.refreshCount();
    if (frame.reconnected) rooms.load().catch(() => {});
  });
  c.on('room_state', onRoomState);
  c.on('room_status', onRoomStatus);
  c.on('chat', onChat);
  c.on('chat_status', onChatStatus);
  c.on('online', ({ roomId, onlineCount }) => setOnline(roomId, onlineCount));
  c.on('user_joined', (d) => presenceLine(d, '进入了房间'));
  c.on('user_left', (d) => presenceLine(d, '离开了房间'));
  c.on('message_deleted', (d) => {
    if (d.roomId === current?.roomId) list.markDeleted(d.messageId);
  });
  c.on('ai_delta', (d) => {
    if (d.roomId === current?.roomId) list.aiDelta(d);
  });
  c.on('error', onServerError);
  c.on('notification', (d) => inbox.onNotification(d));
  c.on('notification_summary', (d) => inbox.setUnread(d.unread));
  c.on('drama_update', onDramaUpdate);
}

function renderConnection({ state, delayMs }) {
  const pill = $('conn');
  const retry = $('conn-retry');
  retry.hidden = true;
  pill.className = 'conn';
  if (state === 'open') {
    pill.textContent = '已连接';
    pill.classList.add('on');
  } else if (state === 'connecting' || state === 'authenticating') {
    pill.textContent = '连接中…';
  } else if (state === 'reconnecting') {
    pill.textContent = `连接已断开，${Math.ceil(delayMs / 1000)} 秒后重连`;
    pill.classList.add('off');
    retry.hidden = false;
    retry.textContent = '立即重连';
  } else if (state === 'stopped') {
    pill.textContent = stopText({ reason: client?.stopReason });
    pill.classList.add('off');
    retry.hidden = client?.stopReason === 'manual';
    retry.textContent = '重新连接';
  }
  composer.setOffline(state !== 'open');
}

function onStopped(info) {
  if (info.reason === 'auth') {
    logout('登录已过期，请重新登录');
    return;
  }
  if (info.reason === 'kicked' && current) {
    showNotice('你已被管理员移出房间，连接已断开。点击上方“重新连接”可回到其他房间。');
    composer.lock('你已被管理员移出房间');
  }
}

// --- rooms ---------------------------------------------------------------------------

function openRoom(room) {
  setRoomsOpen(false);
  if (current?.roomId === room.roomId) return;
  closeRoom();
  current = { roomId: room.roomId, roomType: room.roomType, title: room.title, onlineCount: null };
  setRoomState('joining');
  localStorage.setItem(KEYS.room, room.roomId);
  history.replaceState(null, '', `#room=${encodeURIComponent(room.roomId)}`);
  rooms.setCurrent(room.roomId);
  $('room-empty').hidden = true;
  $('room-main').hidden = false;
  $('room-type').replaceWith(Object.assign(typeTag(room.roomType), { id: 'room-type' }));
  $('room-title').textContent = room.title || room.roomId;
  document.title = `${room.title || room.roomId} · YYC3 实时互动`;
  $('room-online').textContent = '';
  $('older').hidden = true;
  hideNotice();
  list.reset();
  list.me = client?.userId ?? null;
  setupStage(room);
  members.setRoom(current, null);
  composer.open(room.roomId, room.roomType);
  if (room.isClosed) onRoomStatus({ roomId: room.roomId, status: 'closed' });
  for (const out of client.unsentChats(room.roomId)) list.showOutgoing(out);
  client.joinRoom(room.roomId, room.roomType).catch(() => {}); // failures: room_status
}

function closeRoom() {
  if (!current) return;
  client?.leaveRoom(current.roomId);
  player.close();
  layer.clear();
  composer.close();
  current = null;
  $('room-main').hidden = true;
  $('room-empty').hidden = false;
}

function setupStage(room) {
  const drama = room.roomType === 'drama_chat';
  const live = room.roomType === 'live_stream';
  $('stage').hidden = !(drama || live);
  $('player').hidden = !drama;
  $('live-badge').hidden = !live;
  $('viewers').hidden = !live;
  layer.clear();
  if (drama) player.open(room.roomId, room.title);
  if (live) {
    layer.setPaused(false);
    $('screen-caption').textContent = room.title || '';
  }
}

function setRoomState(status) {
  current.status = status;
  $('room-main').dataset.state = status; // joining, joined, closed, forbidden, failed
}

function onRoomState(state) {
  if (state.roomId !== current?.roomId) return;
  setRoomState('joined');
  current.roomType = state.roomType;
  if (state.title) $('room-title').textContent = state.title;
  setOnline(state.roomId, state.onlineCount);
  const first = list.entries.length === 0;
  for (const chat of state.recent || []) list.addChat(chat, { force: first });
  if (first) {
    $('older').hidden = (state.recent || []).length === 0;
    list.scrollToEnd();
  }
  // A room_state means the room took us in: not closed, not banned (any more).
  if (!current.muted) hideNotice();
  composer.unlockUnlessMuted();
}

function onRoomStatus({ roomId, status, error }) {
  if (status === 'closed') rooms.update(roomId, { isClosed: true });
  if (status !== 'joined') rooms.update(roomId, { onlineCount: null });
  if (roomId !== current?.roomId) return;
  setRoomState(status);
  if (status !== 'joined') {
    // Not in the room (any more): its count is not ours to show.
    $('room-online').textContent = '';
    $('viewers').textContent = '';
  }
  if (status === 'closed') {
    showNotice('房间已关闭，无法再发送消息');
    composer.lock('房间已关闭');
    list.addSystem('房间已被关闭');
  } else if (status === 'forbidden' || status === 'failed') {
    const text = errorText(error);
    showNotice(text);
    composer.lock(text);
  } else if (status === 'joined' && !current.muted) {
    composer.unlockUnlessMuted();
  }
}

function setOnline(roomId, n) {
  if (n == null) return;
  rooms.update(roomId, { onlineCount: n });
  if (roomId !== current?.roomId) return;
  current.onlineCount = n;
  $('room-online').textContent = current.roomType === 'ai_assistant' ? '' : `${n} 人在线`;
  $('viewers').textContent = `${n} 人在看`;
  members.setOnline(n);
}

function presenceLine(d, what) {
  if (d.roomId !== current?.roomId || String(d.userId) === client.userId) return;
  list.addSystem(`${d.userName || d.userId} ${what}`);
}

async function loadOlder() {
  if (!current) return;
  const button = $('older');
  button.disabled = true;
  button.textContent = '加载中…';
  try {
    const page = await client.history(current.roomId, { before: list.oldestId() || undefined, limit: 50 });
    for (const chat of [...page.messages].reverse()) list.addChat(chat, { older: true });
    button.hidden = !page.hasMore;
  } catch (err) {
    toast('加载失败', errorText(err), { kind: 'error' });
  } finally {
    button.disabled = false;
    button.textContent = '加载更早的消息';
  }
}

// --- chat ------------------------------------------------------------------------------

function sendChat(text) {
  if (!current) return false;
  const options = {};
  if (current.roomType === 'drama_chat') {
    options.episode = player.episode;
    options.playbackMs = Math.round(player.position);
  }
  client.sendChat(current.roomId, text, options); // shown through chat_status
  return true;
}

function onChat(chat, frame) {
  if (chat.roomId !== current?.roomId) return;
  const own = String(chat.senderId) === client.userId;
  if (chat.streamId) list.aiFinal(chat);
  else list.addChat(chat);
  if (frame.resumed) return;
  if (current.roomType === 'drama_chat') player.onChat(chat, { own });
  if (current.roomType === 'live_stream') layer.shoot(chat.message, { own });
  if (own && current.muted) composer.unmute();
}

function onChatStatus(out) {
  if (out.roomId !== current?.roomId) return;
  list.showOutgoing(out);
  if (out.status !== 'failed') return;
  const code = out.error?.code;
  if (code === 'muted') setMuted(mutedUntil(out.error));
  else if (code === 'room_closed') onRoomStatus({ roomId: out.roomId, status: 'closed' });
  else if (code === 'forbidden') onRoomStatus({ roomId: out.roomId, status: 'forbidden', error: out.error });
  else if (code === 'not_in_room') client.joinRoom(current.roomId, current.roomType).catch(() => {});
}

function setMuted(until) {
  current.muted = true;
  const text = until ? `你已被禁言，${formatTime(until)} 后可发言` : '你已被禁言';
  showNotice(text);
  composer.mute(text, until);
}

function onServerError(data) {
  if (data.streamId) {
    if (data.roomId === current?.roomId) list.aiFailed(data.streamId, data);
    return;
  }
  if (data.code === 'room_closed' && data.roomId) return; // room_status shows it
  toast('操作失败', errorText(data), { kind: 'error' });
}

function onDramaUpdate(d) {
  const text = dramaUpdateText(d);
  toast(`短剧《${d.title}》有更新`, text);
  if (current?.roomId === `drama-${d.dramaId}`) list.addSystem(`短剧《${d.title}》${text}`);
}

function showNotice(text) {
  const notice = $('room-notice');
  notice.textContent = text;
  notice.hidden = false;
}

function hideNotice() {
  $('room-notice').hidden = true;
}

// --- boot ------------------------------------------------------------------------------

window.addEventListener('hashchange', () => {
  const id = new URLSearchParams(location.hash.slice(1)).get('room');
  const room = id && rooms.find(id);
  if (room && client) openRoom(room);
});

if (localStorage.getItem(KEYS.access)) start();
else showLogin();
