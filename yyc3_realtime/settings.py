"""Settings, all read from the environment; see `.env.example` and the README.

With nothing set the server runs on the embedded default: SQLite (WAL) and the
in-memory channel layer, DEBUG on, serving 127.0.0.1 and localhost.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if not value:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(
        f"{name} must be a boolean (1/0, true/false), got {value!r}"
    )


def env_int(name: str, default: int, minimum: int = 0) -> int:
    value = env_str(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be an integer, got {value!r}"
        ) from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {number}")
    return number


def env_float(name: str, default: float) -> float:
    value = env_str(name)
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off"
        )
    # Development only: DEBUG is on, nothing leaves this machine.
    SECRET_KEY = "dev-insecure-yyc3-realtime-change-me-0123456789abcdef"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
# Browser origins allowed to open a WebSocket; empty means the allowed hosts.
WS_ALLOWED_ORIGINS = env_list("WS_ALLOWED_ORIGINS", "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "realtime",
    "chat",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if not DEBUG:
    # Serves the admin's static files in production (after collectstatic); in
    # debug runserver serves them.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "yyc3_realtime.urls"
ASGI_APPLICATION = "yyc3_realtime.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Keep the connection: opening one per call re-runs the PRAGMAs.
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60),
            # WAL lets readers run beside the writer; IMMEDIATE takes the write
            # lock at BEGIN so concurrent writers queue instead of failing.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA busy_timeout=20000;"
                ),
            },
            "TEST": {"NAME": env_str("SQLITE_TEST_PATH") or None},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer ----------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# redis-py 8 caps a pool at 100 connections: a few hundred simultaneous joins
# would fail with "Too many connections". Per process, for the layer and presence.
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 1000, 1)
CHANNEL_LAYER_PREFIX = env_str("CHANNEL_LAYER_PREFIX", "yyc3")
# "pubsub" (the default: channels-redis's pub/sub layer, one PUBLISH per fan-out,
# with realtime.layers' batch extension) or "core" (channels-redis
# RedisChannelLayer: lists with capacity and expiry); docs/architecture.md says why.
CHANNEL_LAYER_BACKEND = env_str("CHANNEL_LAYER_BACKEND", "pubsub")
_REDIS_HOST = {
    "address": REDIS_URL,
    # redis-py 8 defaults to a 5 s socket timeout, shorter than the layer's
    # blocking pop: idle sockets would die with 1011.
    "socket_timeout": None,
    "max_connections": REDIS_MAX_CONNECTIONS,
}
if REDIS_URL and CHANNEL_LAYER_BACKEND == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis's pub/sub layer plus group_send_batch (layers.py)
            "BACKEND": "realtime.layers.PubSubChannelLayer",
            "CONFIG": {
                "hosts": [_REDIS_HOST],
                "prefix": CHANNEL_LAYER_PREFIX,
                # A process's group memberships lapse this long after it last
                # renewed them (every WS_GROUP_REFRESH_SECONDS: at most half this).
                "membership_expiry": env_int(
                    "CHANNEL_LAYER_MEMBERSHIP_EXPIRY", 120, 10
                ),
            },
        }
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [_REDIS_HOST],
                "prefix": CHANNEL_LAYER_PREFIX,
                # One process channel receives every fan-out for its sockets.
                "capacity": env_int("CHANNEL_LAYER_CAPACITY", 10000, 1),
                "expiry": env_int("CHANNEL_LAYER_EXPIRY", 60, 1),
                "group_expiry": env_int("CHANNEL_LAYER_GROUP_EXPIRY", 86400, 60),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": env_int("CHANNEL_LAYER_CAPACITY", 10000, 1)},
        }
    }

# --- Auth -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Sign-in and refresh attempts per client address (brute-force guard).
    "DEFAULT_THROTTLE_RATES": {"token": env_str("AUTH_TOKEN_RATE", "30/min")},
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 30, 1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, 1)),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY") or SECRET_KEY,
    "UPDATE_LAST_LOGIN": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "YYC3 realtime API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- WebSocket limits (see docs/protocol.md) ---------------------------------
WS_AUTH_TIMEOUT = env_float("WS_AUTH_TIMEOUT", 10.0)
WS_MAX_MESSAGE_BYTES = env_int("WS_MAX_MESSAGE_BYTES", 16384, 256)
WS_MAX_CHAT_CHARS = env_int("WS_MAX_CHAT_CHARS", 2000, 1)
WS_MAX_JSON_DEPTH = env_int("WS_MAX_JSON_DEPTH", 8, 2)
WS_MAX_ROOMS_PER_CONNECTION = env_int("WS_MAX_ROOMS_PER_CONNECTION", 20, 1)
WS_MAX_CONNECTIONS_PER_USER = env_int("WS_MAX_CONNECTIONS_PER_USER", 10, 1)
# Sockets from one client address (behind a proxy: run uvicorn --proxy-headers);
# 0 turns the limit off. Generous: users behind one NAT share an address.
WS_MAX_CONNECTIONS_PER_IP = env_int("WS_MAX_CONNECTIONS_PER_IP", 500, 0)
# Abuse: more than this many refused messages in a minute closes with 4008.
WS_MAX_BAD_MESSAGES_PER_MINUTE = env_int("WS_MAX_BAD_MESSAGES_PER_MINUTE", 30, 1)
# Flood: a token bucket of messages per connection.
WS_MESSAGES_PER_SECOND = env_float("WS_MESSAGES_PER_SECOND", 10.0)
WS_MESSAGES_BURST = env_int("WS_MESSAGES_BURST", 20, 1)
# Frames queued for a client that stopped reading before it is closed (1013).
WS_OUTBOX_LIMIT = env_int("WS_OUTBOX_LIMIT", 1000, 1)
# Received messages (bytes) a socket buffers for the application before uvicorn
# stops reading it (with realtime.wsprotocol; stock uvicorn: one message).
WS_RECEIVE_AHEAD_BYTES = env_int("WS_RECEIVE_AHEAD_BYTES", 65536, 1)
# A close to a client that stopped reading (1013) goes out past flow control; if
# it has not gone out this many seconds later the connection is dropped.
WS_STALLED_CLOSE_SECONDS = env_float("WS_STALLED_CLOSE_SECONDS", 5.0)
# permessage-deflate (when uvicorn offers it, --ws-per-message-deflate): off, each
# message is compressed on its own, no zlib state per socket, a fan-out frame is
# compressed once (realtime/wsframes.py); on, uvicorn's context takeover.
WS_DEFLATE_CONTEXT_TAKEOVER = env_bool("WS_DEFLATE_CONTEXT_TAKEOVER", False)
# Server frames shorter than this (bytes) go uncompressed even with deflate agreed.
WS_DEFLATE_MIN_BYTES = env_int("WS_DEFLATE_MIN_BYTES", 128, 0)
# With --http realtime.httpprotocol:HTTPProtocol: seconds a request's headers
# (the WebSocket handshake included) may take before the connection is closed.
WS_HANDSHAKE_TIMEOUT = env_float("WS_HANDSHAKE_TIMEOUT", 10.0)
# Messages of one connection being finished (chats being stored) while the next
# is read; past this the connection waits for its oldest.
WS_MAX_PIPELINED_MESSAGES = env_int("WS_MAX_PIPELINED_MESSAGES", 32, 1)
WS_ROOM_STATE_RECENT = env_int("WS_ROOM_STATE_RECENT", 20, 0)
WS_HISTORY_MAX_LIMIT = env_int("WS_HISTORY_MAX_LIMIT", 100, 1)
# How often a process re-asserts its group memberships and presence (covers a
# Redis restart and group expiry).
WS_GROUP_REFRESH_SECONDS = env_float("WS_GROUP_REFRESH_SECONDS", 30.0)
_layer_config = CHANNEL_LAYERS["default"]["CONFIG"]
if "membership_expiry" in _layer_config:
    if _layer_config["membership_expiry"] <= 2 * WS_GROUP_REFRESH_SECONDS:
        raise ImproperlyConfigured(
            f"CHANNEL_LAYER_MEMBERSHIP_EXPIRY ({_layer_config['membership_expiry']})"
            f" must exceed twice WS_GROUP_REFRESH_SECONDS "
            f"({WS_GROUP_REFRESH_SECONDS:g}): one late renewal would drop them"
        )
    # After Redis lost the member records: long enough for every process to renew.
    _layer_config["membership_grace"] = 2 * WS_GROUP_REFRESH_SECONDS
# User topics share this many channel-layer groups (see realtime/topics.py).
WS_USER_GROUP_SHARDS = env_int("WS_USER_GROUP_SHARDS", 64, 1)
# How long a process holds a room's chat while an earlier one is still on its way.
WS_ORDER_HOLD_SECONDS = env_float("WS_ORDER_HOLD_SECONDS", 0.5)
# How often each process asks the database for its rooms' newest chat, and
# delivers what the channel layer lost (Redis restart or outage, a process killed
# between commit and publish); and how many chats one such read fills at most.
WS_GAP_CHECK_SECONDS = env_float("WS_GAP_CHECK_SECONDS", 2.0)
WS_GAP_FILL_LIMIT = env_int("WS_GAP_FILL_LIMIT", 500, 1)
# Layer sends a process queues while Redis is slow or away; past this the oldest
# are dropped (other processes read the chats back from the database).
WS_LAYER_BACKLOG = env_int("WS_LAYER_BACKLOG", 10000, 1)

# --- Static, i18n, logging ----------------------------------------------------
LANGUAGE_CODE = "zh-hans"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The web page's own files (the JS client module, styles, favicon).
STATICFILES_DIRS = [BASE_DIR / "static"]

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# plain: one readable line per record; json: one JSON object per line, with
# the fields of a connection's events as keys (yyc3_realtime/logformat.py).
LOG_FORMAT = env_str("LOG_FORMAT") or "plain"
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "yyc3_realtime.logfilters.RedactTokensFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "yyc3_realtime.logformat.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # The servers' own loggers go through the same redacting handler: uvicorn
    # logs each socket's path with its query string, token included.
    "loggers": {
        name: {"handlers": ["console"], "level": level, "propagate": False}
        for name, level in (
            ("uvicorn", LOG_LEVEL),
            ("uvicorn.error", LOG_LEVEL),
            ("uvicorn.access", LOG_LEVEL),
            ("daphne", "WARNING"),
            ("django.channels.server", LOG_LEVEL),
        )
    },
}

# Default slow mode per room type (seconds between one user's messages); a room's
# own setting in admin wins.
ROOM_SLOW_MODE_SECONDS = {
    "live_stream": env_float("LIVE_STREAM_SLOW_MODE_SECONDS", 1.0),
    "drama_chat": env_float("DRAMA_CHAT_SLOW_MODE_SECONDS", 0.0),
    "cultural_circle": env_float("CULTURAL_CIRCLE_SLOW_MODE_SECONDS", 0.0),
    "ai_assistant": 0.0,
}
# Chat history kept per room type, in hours: older messages are hidden from history
# at once and deleted by `manage.py purge_danmaku`. A type not listed, or 0, keeps
# its history forever (cultural circles, drama chat, assistant conversations).
ROOM_HISTORY_RETENTION_HOURS = {
    # LIVE_STREAM_DANMAKU_RETENTION_HOURS: how long a stream's danmaku is kept.
    "live_stream": env_float("LIVE_STREAM_DANMAKU_RETENTION_HOURS", 72.0),
}
# LIVE_STREAM_PRESENCE_THRESHOLD: above this many viewers a live room no longer
# broadcasts user_joined/user_left; the coalesced `presence` count carries it.
LIVE_STREAM_PRESENCE_THRESHOLD = env_int("LIVE_STREAM_PRESENCE_THRESHOLD", 200)
# LIVE_STREAM_PRESENCE_INTERVAL: seconds between a live room's `presence` frames
# (each process checks the shared count this often while it has viewers there).
LIVE_STREAM_PRESENCE_INTERVAL = env_float("LIVE_STREAM_PRESENCE_INTERVAL", 1.0)

# LIVE_DANMAKU_RATE: chats a second above which a live room's viewers get a sample
# (its sender still gets each; all are stored); a room's own setting in admin wins.
# 0: off.
LIVE_DANMAKU_RATE = env_int("LIVE_DANMAKU_RATE", 0)

# Most chats stored in one transaction by a process's writer (group commit).
CHAT_WRITE_BATCH_MAX = env_int("CHAT_WRITE_BATCH_MAX", 200, 1)
# How long a chat that finds the writer idle waits for others to share its
# transaction and layer message (group commit delay, as PostgreSQL's commit_delay).
CHAT_WRITE_LINGER_MS = env_float("CHAT_WRITE_LINGER_MS", 5.0)

# --- Chat content and the assistant --------------------------------------------
CHAT_BLOCKED_WORDS = [w.lower() for w in env_list("CHAT_BLOCKED_WORDS", "")]
AI_ASSISTANT_NAME = "AI助手"
AI_BACKEND = env_str("AI_BACKEND", "offline")
AI_OPENAI_BASE_URL = env_str("AI_OPENAI_BASE_URL", "https://api.openai.com/v1")
AI_OPENAI_MODEL = env_str("AI_OPENAI_MODEL", "gpt-4o-mini")
AI_OPENAI_API_KEY = env_str("AI_OPENAI_API_KEY")
AI_TIMEOUT_SECONDS = env_float("AI_TIMEOUT_SECONDS", 30.0)
# A typing effect for the offline assistant in demos (seconds between deltas).
AI_OFFLINE_DELAY_SECONDS = env_float("AI_OFFLINE_DELAY_SECONDS", 0.0)
# AI_REPLY_TIMEOUT_SECONDS: a whole streamed reply must finish within this; past
# it the reply is cancelled and nothing is stored (AI_TIMEOUT_SECONDS bounds each
# network wait of the openai backend).
AI_REPLY_TIMEOUT_SECONDS = env_float("AI_REPLY_TIMEOUT_SECONDS", 120.0)
# AI_REPLIES_PER_MINUTE: assistant replies one user may ask for per minute, over
# all their assistant rooms; more is answered with `rate_limited`.
AI_REPLIES_PER_MINUTE = env_int("AI_REPLIES_PER_MINUTE", 10, 1)
# AI_HISTORY_MESSAGES: earlier messages of the conversation sent as context.
AI_HISTORY_MESSAGES = env_int("AI_HISTORY_MESSAGES", 20, 0)

# --- Notifications -------------------------------------------------------------
# NOTIFICATIONS_CATCHUP_LIMIT: notifications sent after auth_success to a client
# that gave lastNotificationId (oldest first); more than this: a summary follows.
NOTIFICATIONS_CATCHUP_LIMIT = env_int("NOTIFICATIONS_CATCHUP_LIMIT", 50, 1)
# REST inbox page size: the default, and the most `limit` may ask for.
NOTIFICATIONS_PAGE_SIZE = env_int("NOTIFICATIONS_PAGE_SIZE", 20, 1)
NOTIFICATIONS_MAX_PAGE_SIZE = env_int("NOTIFICATIONS_MAX_PAGE_SIZE", 100, 1)
# Rows per INSERT when an announcement goes to chosen users, or read marks.
NOTIFICATIONS_BULK_BATCH = env_int("NOTIFICATIONS_BULK_BATCH", 1000, 1)

# --- Security: client address, allowlists, shared rates, abuse bans ----------
# (docs/security.md) Peers whose X-Forwarded-For is believed (CIDRs); empty: the
# socket peer is the client. The one function deciding it: realtime/address.py.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
# Client addresses (CIDRs) allowed to open a socket or call the API; empty: all.
WS_IP_ALLOWLIST = env_list("WS_IP_ALLOWLIST", "")
# /metrics: a client address in METRICS_ALLOWED_ADDRESSES (CIDRs), or
# `Authorization: Bearer <METRICS_TOKEN>` when that is set.
METRICS_ALLOWED_ADDRESSES = env_list(
    "METRICS_ALLOWED_ADDRESSES", "127.0.0.1/32,::1/128"
)
METRICS_TOKEN = env_str("METRICS_TOKEN")
# Sign-in attempts per attempted username (AUTH_TOKEN_RATE counts per address).
AUTH_TOKEN_USERNAME_RATE = env_str("AUTH_TOKEN_USERNAME_RATE", "10/min")
# Socket handshakes per client address per second, over every process; 0: off.
WS_HANDSHAKES_PER_SECOND = env_int("WS_HANDSHAKES_PER_SECOND", 20, 0)
# Messages per user over all their sockets and every process (unset: the same
# as the per-socket WS_MESSAGES_PER_SECOND / WS_MESSAGES_BURST).
WS_USER_MESSAGES_PER_SECOND = env_float("WS_USER_MESSAGES_PER_SECOND", 0.0) or None
WS_USER_MESSAGES_BURST = env_int("WS_USER_MESSAGES_BURST", 0, 0) or None
# A process charges a user's messages to the shared count once per this many.
WS_USER_RATE_SYNC_EVERY = env_int("WS_USER_RATE_SYNC_EVERY", 10, 1)
# Abuse score per address and per user (bad frames, rate hits, auth failures,
# handshake floods) over ABUSE_WINDOW_SECONDS; past ABUSE_BAN_THRESHOLD a
# temporary ban of ABUSE_BAN_SECONDS (admin lists and lifts it). Every process
# re-reads the bans at least every ABUSE_BAN_SYNC_SECONDS.
ABUSE_WINDOW_SECONDS = env_int("ABUSE_WINDOW_SECONDS", 600, 1)
ABUSE_BAN_THRESHOLD = env_int("ABUSE_BAN_THRESHOLD", 100, 1)
ABUSE_BAN_SECONDS = env_int("ABUSE_BAN_SECONDS", 900, 1)
ABUSE_BAN_SYNC_SECONDS = env_float("ABUSE_BAN_SYNC_SECONDS", 2.0)
# REST room list paging (GET /api/rooms/?limit=&offset=).
ROOMS_PAGE_SIZE = env_int("ROOMS_PAGE_SIZE", 100, 1)
ROOMS_MAX_PAGE_SIZE = env_int("ROOMS_MAX_PAGE_SIZE", 500, 1)
# runserver (daphne) refuses larger frames itself with 1009, as production does.
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = WS_MAX_MESSAGE_BYTES
DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = WS_MAX_MESSAGE_BYTES
# A validly signed token with a malformed user id is a 401, not a 500.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "realtime.auth.RestJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}
# WS_IP_ALLOWLIST for the REST API (sockets check it in realtime/entry.py).
MIDDLEWARE = ["realtime.address.ApiAllowlistMiddleware", *MIDDLEWARE]

# --- Moderation (chat/words.py, chat/admin.py) ---------------------------------
# CHAT_WORDS_CHECK_SECONDS: how often a process asks whether the sensitive-word
# list changed (one tiny query); a change made on another process applies
# within this. The process that made it applies it at once.
CHAT_WORDS_CHECK_SECONDS = env_float("CHAT_WORDS_CHECK_SECONDS", 2.0)
# ADMIN_COUNT_LIMIT: admin changelists count at most this many rows (a count of
# a million rows is a full scan); pages past it are reached by filtering.
ADMIN_COUNT_LIMIT = env_int("ADMIN_COUNT_LIMIT", 10000, 100)
# ADMIN_TEXT_PREVIEW_CHARS: message text shown per row in admin lists.
ADMIN_TEXT_PREVIEW_CHARS = env_int("ADMIN_TEXT_PREVIEW_CHARS", 80, 10)
# ADMIN_ROOM_LIVE_MESSAGES / ADMIN_ROOM_LIVE_REFRESH_SECONDS: the moderator's
# live room page: recent messages shown, and how often it refreshes itself.
ADMIN_ROOM_LIVE_MESSAGES = env_int("ADMIN_ROOM_LIVE_MESSAGES", 50, 1)
ADMIN_ROOM_LIVE_REFRESH_SECONDS = env_float("ADMIN_ROOM_LIVE_REFRESH_SECONDS", 5.0)
# ADMIN_ACTION_MAX_ROWS: most rows one admin action (hide, mute, ban, close...)
# acts on; past it the moderator is asked to narrow the selection.
ADMIN_ACTION_MAX_ROWS = env_int("ADMIN_ACTION_MAX_ROWS", 1000, 1)
# runserver (daphne): a frame past its own cap is dropped without a close frame
# (autobahn fails by dropping the connection), so that cap stays well above
# WS_MAX_MESSAGE_BYTES, whose refusal the client reads: `error`, then 4009.
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = max(1024 * 1024, 4 * WS_MAX_MESSAGE_BYTES)
DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE

# --- Operations: metrics and the live monitor (realtime/metrics.py, monitor.py)
# METRICS_ENABLED=0 switches off the per-message counting (frames, deliveries,
# batches, fan-out latency) and the snapshots; bench/ measures its cost with it.
# Connection counts and closes are kept either way.
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
# How often each process writes its metrics snapshot for the live monitor in
# admin (to Redis with REDIS_URL); the page refreshes as often.
METRICS_REPORT_SECONDS = max(0.1, env_float("METRICS_REPORT_SECONDS", 2.0))
