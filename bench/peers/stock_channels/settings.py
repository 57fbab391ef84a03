"""Settings of the stock-Channels peer (standalone; no database, no installed apps).

BENCH_CHANNEL_PREFIX picks the channel-layer key prefix (run.py passes a random one and
deletes its keys afterwards); otherwise a random one is made per process start.
"""

import os
import secrets

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
DATABASES = {}
USE_TZ = True
ROOT_URLCONF = "stock_channels.urls"
ASGI_APPLICATION = "stock_channels.asgi.application"
LOGGING_CONFIG = None

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # channels_redis passes the dict (minus "address") to redis-py's
            # ConnectionPool.from_url as keyword arguments. Two redis-py 8 defaults
            # break the layer: socket_timeout 5 s (its blocking BZPOPMIN then times
            # out on an idle socket), and max_connections 100 (was 2**31), which makes a
            # burst of >100 concurrent group_add/group_discard raise MaxConnectionsError
            # ("Too many connections") instead of waiting.
            "hosts": [
                {
                    "address": "redis://127.0.0.1:6379/0",
                    "socket_timeout": None,
                    "max_connections": 1000,
                }
            ],
            "prefix": os.environ.get("BENCH_CHANNEL_PREFIX")
            or f"bench-{secrets.token_hex(4)}",
        },
    }
}
