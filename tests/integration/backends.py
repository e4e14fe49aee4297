# SPDX-License-Identifier: GPL-3.0-or-later
"""Real backends on loopback for health-check tests: HTTP and HTTPS servers
whose answer the test changes at will, and TCP listeners it opens and
closes. Each binds its own 127.0.0.x address, so DNS answers tell the
backends apart."""
import datetime
import http.server
import ipaddress
import os
import socket
import ssl
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class HTTPBackend:
    """An HTTP(S) server on ip:port (port 0: any). mode is one of "ok"
    (200 "ok"), "error" (503), "body" (200 with another body), "hang"
    (answers nothing for 10 s), "drop" (200 "ok", then closes the
    connection without saying so in the response). path_modes maps a
    request path to a mode of its own, overriding mode for that path.
    Connections are kept alive otherwise. Records each request's time,
    path, headers and client port."""

    def __init__(self, ip, port=0, tls=None):
        self.ip = ip
        self.mode = "ok"
        self.path_modes = {}
        self.requests = []
        self.lock = threading.Lock()
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with backend.lock:
                    backend.requests.append((time.monotonic(), self.path,
                                             dict(self.headers),
                                             self.client_address[1]))
                    mode = backend.path_modes.get(self.path, backend.mode)
                if mode == "hang":
                    time.sleep(10)
                    return
                status, body = {"ok": (200, b"ok\n"),
                                "drop": (200, b"ok\n"),
                                "error": (503, b"down\n"),
                                "body": (200, b"maintenance\n")}[mode]
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if mode == "drop":
                    self.close_connection = True

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((ip, port), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket,
                                                 server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode

    def request_count(self):
        with self.lock:
            return len(self.requests)

    def last_request(self):
        """(time, path, headers, client port) of the latest request."""
        with self.lock:
            return self.requests[-1] if self.requests else None

    def requests_since(self, t):
        with self.lock:
            return [r for r in self.requests if r[0] >= t]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class TCPBackend:
    """A listening TCP socket on ip:port that accepts and closes; close()
    and reopen() take it away and bring it back on the same port. A black
    hole has a full accept queue that drops every SYN, so connects hang."""

    def __init__(self, ip, port=0, blackhole=False):
        self.ip = ip
        self.port = port
        self.sock = None
        self.filler = None
        self.blackhole = blackhole
        self.accepted = 0
        self.reopen()

    def reopen(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.ip, self.port))
        self.port = s.getsockname()[1]
        self.sock = s
        if self.blackhole:
            s.listen(0)
            # One connection fills a backlog of 0; later SYNs are dropped.
            self.filler = socket.create_connection((self.ip, self.port))
            return
        s.listen(64)
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, s):
        while True:
            try:
                conn, _ = s.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None
        if self.filler is not None:
            self.filler.close()
            self.filler = None


def make_certificate(directory, names=(), ips=()):
    """A self-signed certificate for the given DNS names and IPs; returns
    (certificate path, key path). The certificate is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            "OpenGSLB test backend")])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt = [x509.DNSName(n) for n in names] + \
        [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .sign(key, hashes.SHA256()))
    stem = os.path.join(directory, "-".join(list(names) + list(ips)))
    cert_path, key_path = stem + ".crt", stem + ".key"
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def tls_context(cert_path, key_path):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx
