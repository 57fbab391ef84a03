#!/usr/bin/env python3
"""Render the nginx site for yyc3-realtime from deploy/nginx/yyc3-realtime.conf.in.

    python3 deploy/render.py --server-name api.yyc3.com --processes 4 \
        > /etc/nginx/sites-available/yyc3-realtime

Placeholders are @NAME@ (nginx itself uses $ and braces). Standard library only:
runs with the system python3 as well as the project's venv.
"""

import argparse
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "nginx" / "yyc3-realtime.conf.in"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-name", default="api.yyc3.com")
    parser.add_argument(
        "--processes",
        type=int,
        default=4,
        help="server processes on 127.0.0.1, ports --first-port and up "
        "(the yyc3-realtime@<port> units)",
    )
    parser.add_argument("--first-port", type=int, default=8001)
    parser.add_argument(
        "--backends",
        help="comma-separated host:port list instead of --processes "
        "(processes on other hosts)",
    )
    parser.add_argument("--listen-http", default="80")
    parser.add_argument("--listen-https", default="443")
    parser.add_argument("--tls-cert", default="/etc/ssl/yyc3-realtime/fullchain.pem")
    parser.add_argument("--tls-key", default="/etc/ssl/yyc3-realtime/privkey.pem")
    parser.add_argument(
        "--static-root",
        default="/srv/yyc3-realtime/staticfiles",
        help="Django's STATIC_ROOT: <app dir>/staticfiles",
    )
    parser.add_argument("--log-dir", default="/var/log/nginx")
    return parser.parse_args(argv)


def backends(args: argparse.Namespace) -> list[str]:
    if args.backends:
        return [b.strip() for b in args.backends.split(",") if b.strip()]
    return [f"127.0.0.1:{args.first_port + n}" for n in range(args.processes)]


def https_redirect(listen: str) -> str:
    port = listen.rsplit(":", 1)[-1]
    if port == "443":
        return "https://$host$request_uri"
    return f"https://$host:{port}$request_uri"


def render(args: argparse.Namespace) -> str:
    servers = backends(args)
    if not servers:
        raise SystemExit("render.py: no backends")
    values = {
        "UPSTREAM_SERVERS": "\n".join(
            f"    server {server} max_fails=1 fail_timeout=10s;" for server in servers
        ),
        "SERVER_NAME": args.server_name,
        "HTTP_LISTEN": args.listen_http,
        "HTTPS_LISTEN": args.listen_https,
        "HTTPS_REDIRECT": https_redirect(args.listen_https),
        "TLS_CERT": args.tls_cert,
        "TLS_KEY": args.tls_key,
        "STATIC_ROOT": args.static_root.rstrip("/"),
        "LOG_DIR": args.log_dir.rstrip("/"),
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise SystemExit(f"render.py: unfilled placeholders {sorted(set(left))}")
    return text


if __name__ == "__main__":
    sys.stdout.write(render(parse_args(sys.argv[1:])))
