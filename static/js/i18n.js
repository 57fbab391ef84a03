// Chinese texts for every code the server or the client can give, and time formats.

export const ROOM_TYPES = {
  drama_chat: '短剧',
  live_stream: '直播',
  ai_assistant: 'AI 助手',
  cultural_circle: '文化圈',
};

export const DRAMA_STATUS = {
  draft: '草稿',
  pending: '审核中',
  approved: '已通过',
  rejected: '已驳回',
  offline: '已下线',
};

export const DRAMA_FIELDS = {
  title: '标题',
  description: '简介',
  status: '状态',
  reviewNote: '审核意见',
  episodeCount: '集数',
  ownerId: '作者',
};

export const NOTIFICATION_TYPES = {
  system: '系统通知',
  review: '审核',
  comment: '评论',
  like: '点赞',
  follow: '关注',
  drama: '短剧',
};

const SECONDS = (ms) => Math.max(1, Math.ceil((Number(ms) || 0) / 1000));

/**
 * Return when a `muted` error says the mute ends (a future Date), or null. Reads
 * `until` (UTC ISO), else the time in the message ("muted until <time>", which a
 * server may write without a zone: it is UTC).
 */
export function mutedUntil(error) {
  let raw = error?.until || /until (.+)$/.exec(error?.message || '')?.[1];
  if (!raw) return null;
  raw = String(raw).trim().replace(' ', 'T');
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(raw)) raw += 'Z';
  const t = Date.parse(raw);
  return Number.isNaN(t) || t <= Date.now() ? null : new Date(t);
}

/** Return a Chinese sentence for an error frame's data (or a client-side error). */
export function errorText(error) {
  const code = error?.code || 'unknown';
  switch (code) {
    case 'invalid_json': return '消息格式错误，服务器无法识别';
    case 'invalid_message': return '消息内容不符合要求';
    case 'unknown_type': return '不支持的操作';
    case 'not_authenticated': return '尚未登录，请重新登录';
    case 'not_in_room': return '你已不在这个房间，正在重新加入';
    case 'room_not_found': return '房间不存在或你无权进入';
    case 'room_type_mismatch': return '房间类型不符';
    case 'forbidden': return /too many rooms/.test(error.message || '')
      ? '同时加入的房间太多了'
      : '你已被禁止进入此房间';
    case 'room_closed': return '房间已关闭';
    case 'muted': {
      const until = mutedUntil(error);
      return until ? `你已被禁言，${formatTime(until)} 后可发言` : '你已被禁言';
    }
    case 'message_too_long': {
      const max = /(\d+)\s*characters/.exec(error.message || '')?.[1];
      return max ? `消息太长了，最多 ${max} 个字` : '消息太长了，请删减后再发';
    }
    case 'rate_limited': return error.retryAfterMs
      ? `发送太频繁，请 ${SECONDS(error.retryAfterMs)} 秒后再试`
      : '发送太频繁，请稍后再试';
    case 'content_blocked': return '消息包含不允许的内容，未发送';
    case 'ai_unavailable': return 'AI 助手暂时不可用，请稍后再试';
    case 'ai_cancelled': return 'AI 回复已取消';
    case 'timeout': return '服务器没有响应，请重试';
    case 'disconnected': return '连接已断开，消息未发送';
    case 'network': return '网络连接失败，请检查网络';
    default: return '操作失败，请稍后再试';
  }
}

/** Whether sending the same chat again can succeed without the user changing it. */
export function retryable(error) {
  return !['message_too_long', 'content_blocked', 'invalid_message', 'room_closed', 'forbidden', 'room_not_found']
    .includes(error?.code);
}

/** The status line for a stopped or closed connection. */
export function stopText(info) {
  switch (info.reason) {
    case 'kicked': return '你已被管理员移出房间，连接已断开';
    case 'auth': return '登录已过期，请重新登录';
    case 'gave_up': return '无法连接服务器';
    case 'manual': return '已断开';
    default: return '连接已断开';
  }
}

export function closeText(code) {
  return {
    1009: '消息过大，连接被断开',
    1011: '服务器内部错误',
    1013: '网络太慢，正在重新连接',
    4008: '无效消息过多，连接被断开',
    4029: '同时在线的设备过多',
  }[code] || '';
}

export function loginErrorText(error) {
  switch (error?.code) {
    case 'invalid_credentials': return '用户名或密码错误';
    case 'invalid_request': return '请输入用户名和密码';
    case 'throttled': return '登录尝试过于频繁，请稍后再试';
    case 'network': return '网络连接失败，请检查网络后重试';
    default: return `登录失败（服务器错误${error?.data?.status ? ' ' + error.data.status : ''}），请稍后再试`;
  }
}

export function dramaStatusText(status) {
  return DRAMA_STATUS[status] || status || '';
}

export function dramaUpdateText(data) {
  const fields = (Array.isArray(data.changed) ? data.changed : [])
    .map((f) => DRAMA_FIELDS[f] || f)
    .join('、');
  const parts = [`状态：${dramaStatusText(data.status)}`];
  if (fields) parts.push(`更新了${fields}`);
  return parts.join('，');
}

const pad = (n) => String(n).padStart(2, '0');

/** "14:03", "昨天 14:03", "11月29日 14:03", "2025年11月29日 14:03". */
export function formatTime(value) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diffDays = Math.round((day(now) - day(d)) / 86400000);
  if (diffDays === 0) return hm;
  if (diffDays === 1) return `昨天 ${hm}`;
  if (d.getFullYear() === now.getFullYear()) return `${d.getMonth() + 1}月${d.getDate()}日 ${hm}`;
  return `${d.getFullYear()}年${d.getMonth() + 1}月${d.getDate()}日 ${hm}`;
}

/** Playback position "mm:ss" (or "h:mm:ss"). */
export function formatPlayback(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const body = `${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return h ? `${h}:${body}` : body;
}
