"""Serves the applicants' web app locally (stdlib only): right MIME types, gzip, no caching of HTML."""
import argparse
import gzip
import json
import os
import signal
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

ROOT = os.path.dirname(os.path.abspath(__file__))
# Only what the browser needs; package.json, tests, node_modules and this script stay private.
PUBLIC = ("index.html", "api.html", "draws.html", "config.js", "app.css", "src/", "vendor/")
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ico": "image/x-icon",
}
COMPRESSIBLE = (".html", ".js", ".mjs", ".css", ".json", ".svg")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self' http://127.0.0.1:* http://localhost:*; frame-ancestors 'none'; base-uri 'self'; "
       "form-action 'self'")


class Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def version_string(self):
        return "fairslot-web"

    def _public_path(self):
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path in ("", "/"):
            return "index.html"
        if path in ("/api", "/api/"):
            return "api.html"  # the partners' API reference
        if path in ("/draws", "/draws/"):
            return "draws.html"  # anyone verifies a draw (src/verify.js)
        rel = unquote(path).lstrip("/")
        if ".." in rel.split("/") or "\\" in rel or "\0" in rel or not any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in PUBLIC):
            return None
        return rel

    def send_head(self):
        rel = self._public_path()
        full = os.path.join(self.directory, rel) if rel else None
        if not full or not os.path.isfile(full):
            self.send_error(404, "Not found")
            return None
        ext = os.path.splitext(full)[1].lower()
        with open(full, "rb") as f:
            body = f.read()
        if rel == "config.js" and self.server.api_url:
            # The API this server was started next to (devlocal.stack --api-port): no ?api= needed.
            body = f"window.FAIRSLOT_API = {json.dumps(self.server.api_url)};\n".encode()
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if ext in COMPRESSIBLE and accepts_gzip and len(body) > 1024:
            body = gzip.compress(body, compresslevel=6)
            encoding = "gzip"
        else:
            encoding = None
        self.send_response(200)
        self.send_header("Content-Type", self.extensions_map.get(ext, "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Vary", "Accept-Encoding")
        if ext == ".html":
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", CSP)
        elif rel.startswith("vendor/"):
            self.send_header("Cache-Control", "public, max-age=86400")
        else:
            self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.end_headers()
        return _Body(body)

    def copyfile(self, source, outputfile):
        outputfile.write(source.data)

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            super().log_message(fmt, *args)


class _Body:
    def __init__(self, data):
        self.data = data

    def close(self):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dir", default=ROOT, help="folder to serve (default: web/)")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.add_argument("--api-url", help="the API the app calls (config.js); default: what config.js says")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), partial(Handler, directory=args.dir))
    server.quiet = args.quiet
    server.api_url = args.api_url.rstrip("/") if args.api_url else None
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"fairslot web on http://{args.host}:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
