"""The Kamailio SIP edge (deploy/kamailio/kamailio.cfg) in front of two real gateways (deploy issue).

One Kamailio 5.6 runs the production configuration, only its defines changed (ports, file paths, faster probing);
two `answer-ninja gateway` processes are the gateway pods (their SIP on 127.0.0.11 and 127.0.0.12, as two pods have
two addresses); a Python UDP server in a thread plays the trunk: the registrar uac_reg registers with, and the carrier
that calls out reach. Checked:

- `kamailio -c` accepts the configuration with the production defaults and with each optional part; kustomize
  renders the files as the ConfigMap Kubernetes mounts;
- calls through the edge spread over both gateways (round robin) and end normally (BYE by Record-Route);
- a device's REGISTER and its digest answer reach the same gateway (hash over the To URI) and get 200; both gateways
  ring it by its Path, and so does that gateway restarted (it asks the other for the bindings it knows);
- a call over TLS to the edge;
- a device calls out: the gateways send calls to the trunk through the edge (`sip.outbound_proxy`, no registration
  of their own), the trunk's 407 is answered by the gateway with the trunk's credentials, and the ACK and BYE reach
  the trunk through the edge too; the device's own answer to the gateway's 407 is taken by whichever gateway the
  edge gives it to (nonces under a secret the gateways share), and only for its own Request-URI; a call out outlives
  the reset of its TCP connection to the edge (its BYE goes over the next one);
- uac_reg registers with the trunk and answers its digest challenge; a call to the registered Contact reaches the
  gateway as a call to the registered number;
- the trust domain: a P-Asserted-Identity reaches the gateways from the trunk's addresses only;
- ratelimit: INVITEs over the edge's rate get 503 Rate Limited; pike: a flood from one address is dropped;
- the shipped Kubernetes dispatcher.list loads with no pod resolvable, every gateway inactive, and a call gets 503;
- drain: a gateway given SIGTERM answers OPTIONS with 503, the dispatcher marks it inactive, new calls all go to
  the other gateway, and the call it holds ends normally through the edge before it exits 0;
- a gateway that comes back is used again; one killed outright is skipped (failure_route) and marked inactive.

Under CI=true a missing kamailio, kamcmd, openssl or kubectl fails the test instead of skipping it.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

import deploy_metrics
from deploy_tools import tool
import yaml

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / ".build" / "debug" / "answer-ninja"
EDGE = ROOT / "deploy" / "kamailio"
GATEWAY_HOSTS = ("127.0.0.11", "127.0.0.12")
RTP_RANGES = ((42000, 42099), (42100, 42199))
DEVICE_PASSWORD = "device-secret"
TRUNK_USER, TRUNK_PASSWORD, TRUNK_REALM = "edge-account", "trunk-secret", "trunk.test"
# The edge's other name, as the gateways' outbound proxy names it (Kubernetes: the Service's cluster name), served by
# a dnsmasq of the test's own.
EDGE_NAME = "edge.answer-ninja.test"
PIKE_DENSITY = 16
# Gateways a test started in place of a stopped one; the fixture stops them.
RESTARTED = []
INVITES_PER_SECOND = 3


def free_port(host="127.0.0.1", udp=True, tcp=True):
    """A port free on `host` for UDP and/or TCP."""
    for _ in range(50):
        sockets = []
        try:
            for kind, wanted in ((socket.SOCK_DGRAM, udp), (socket.SOCK_STREAM, tcp)):
                if wanted:
                    sock = socket.socket(socket.AF_INET, kind)
                    sockets.append(sock)
                    sock.bind((host, sockets[0].getsockname()[1] if len(sockets) > 1 else 0))
            return sockets[0].getsockname()[1]
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free port")


class Process:
    """A child process with its output in a log file; stop() is SIGTERM, then SIGKILL after `grace` seconds."""

    def __init__(self, name, args, directory, env=None):
        self.name = name
        self.log_path = Path(directory) / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=directory,
                                      start_new_session=True)

    def tail(self, lines=40):
        self.log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return f"--- {self.name} log (last {lines} lines)\n" + "\n".join(text[-lines:])

    def stop(self, grace=10):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self.log.close()
        return self.popen.returncode


def wait_for(what, check, timeout, interval=0.2):
    """Polls `check` until it returns something truthy; fails with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def edge_metrics(port):
    """The edge's scrape: {(name, frozenset of label pairs): value}."""
    status, text = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, f"/metrics answered {status}: {text[:200]}"
    series = {}
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if match:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            series[(match.group(1), labels)] = float(match.group(3))
    return series


def refused(port, reason):
    return edge_metrics(port).get(("kamailio_edge_refused_total", frozenset({("reason", reason)})), 0.0)


def http_get(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return None, ""


def redis_ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def http_post(url, timeout=2):
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return None, str(error)


# --- SIP over UDP from Python ---

def sip_request(method, uri, *, src="127.0.0.1", sock=None, call_id=None, cseq=1, headers=(), body="",
                from_user="probe", to_uri=None):
    """A request as bytes, with a fresh branch and a Via naming `sock`'s address."""
    local_port = sock.getsockname()[1]
    call_id = call_id or uuid.uuid4().hex
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {src}:{local_port};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport",
        "Max-Forwards: 70",
        f"From: <sip:{from_user}@{src}>;tag={call_id[:8]}",
        f"To: <{to_uri or uri}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        *headers,
        f"Content-Length: {len(body.encode())}",
        "",
        body,
    ]
    return "\r\n".join(lines).encode()


def udp_socket(src="127.0.0.1"):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((src, 0))
    return sock


def final_response(sock, timeout):
    """The first final (>= 200) response on `sock` within `timeout` seconds, as text, or None."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(65535).decode(errors="replace")
        except socket.timeout:
            return None
        match = re.match(r"SIP/2\.0 (\d{3})", data)
        if match and int(match.group(1)) >= 200:
            return data
    return None


def status_of(response):
    return int(response.split(" ", 2)[1]) if response else None


def options(port, host="127.0.0.1", src="127.0.0.1", timeout=1.0):
    """One OPTIONS to host:port; the final status code, or None."""
    with udp_socket(src) as sock:
        sock.sendto(sip_request("OPTIONS", f"sip:{host}:{port}", src=src, sock=sock), (host, port))
        return status_of(final_response(sock, timeout))


def header(response, name):
    return [m.group(1).strip() for m in re.finditer(rf"^{name}:(.*)$", response, flags=re.M | re.I)]


def digest_parameters(value):
    return dict(re.findall(r'(\w+)="?([^",]*)"?', value))


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def digest_answer(challenge, method, uri, username, password):
    """An Authorization value answering an MD5 digest challenge (RFC 2617, qop=auth when offered)."""
    p = digest_parameters(challenge)
    ha1, ha2 = md5(f"{username}:{p['realm']}:{password}"), md5(f"{method}:{uri}")
    value = f'Digest username="{username}", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{uri}", algorithm=MD5'
    if "auth" in p.get("qop", "").split(","):
        cnonce = uuid.uuid4().hex[:16]
        response = md5(f"{ha1}:{p['nonce']}:00000001:{cnonce}:auth:{ha2}")
        value += f', qop=auth, nc=00000001, cnonce="{cnonce}"'
    else:
        response = md5(f"{ha1}:{p['nonce']}:{ha2}")
    if "opaque" in p:
        value += f', opaque="{p["opaque"]}"'
    return value + f', response="{response}"'


class Trunk(threading.Thread):
    """The trunk, over UDP. Its registrar challenges each REGISTER with digest, answers a correct response with 200
    and records what it accepted. As the carrier it challenges each INVITE with a 407, answers one with the right
    credentials with 200 (its SDP pointing at a socket of its own), answers BYE and OPTIONS with 200, and records
    every request but REGISTER in `seen`."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = udp_socket()
        self.port = self.sock.getsockname()[1]
        self.media = udp_socket()
        self.accepted = []
        self.requests = 0
        self.seen = []
        self.stopping = False

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            text = data.decode(errors="replace")
            method = text.split(" ", 1)[0]
            head = text.split("\r\n\r\n", 1)[0].split("\r\n")
            keep = [line for line in head[1:] if re.match(r"(Via|From|To|Call-ID|CSeq):", line, flags=re.I)]
            if method in ("INVITE", "ACK", "BYE", "OPTIONS"):
                self.seen.append(text)
                self.carrier(method, text, keep, peer)
                continue
            if method != "REGISTER":
                continue
            self.requests += 1
            authorization = header(text, "Authorization")
            if authorization and self.valid(authorization[0], "REGISTER"):
                self.accepted.append(text)
                contact = header(text, "Contact")
                reply = ["SIP/2.0 200 OK", *keep, *(f"Contact: {c};expires=300" for c in contact)]
            else:
                nonce = uuid.uuid4().hex
                reply = ["SIP/2.0 401 Unauthorized", *keep,
                         f'WWW-Authenticate: Digest realm="{TRUNK_REALM}", nonce="{nonce}", qop="auth", algorithm=MD5']
            reply = [line if not line.lower().startswith("to:") or ";tag=" in line else line + ";tag=trunk"
                     for line in reply]
            self.sock.sendto(("\r\n".join(reply) + "\r\nContent-Length: 0\r\n\r\n").encode(), peer)

    def carrier(self, method, text, keep, peer):
        if method == "ACK":
            return
        reply, body = ["SIP/2.0 200 OK", *keep], ""
        if method == "INVITE":
            authorization = header(text, "Proxy-Authorization")
            if not (authorization and self.valid(authorization[0], "INVITE")):
                reply = ["SIP/2.0 407 Proxy Authentication Required", *keep,
                         f'Proxy-Authenticate: Digest realm="{TRUNK_REALM}", nonce="{uuid.uuid4().hex}", qop="auth", '
                         'algorithm=MD5']
            else:
                body = (f"v=0\r\no=carrier 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                        f"m=audio {self.media.getsockname()[1]} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
                reply += [*(f"Record-Route: {r}" for r in header(text, "Record-Route")),
                          f"Contact: <sip:far-end@127.0.0.1:{self.port}>", "Content-Type: application/sdp"]
        reply = [line if not line.lower().startswith("to:") or ";tag=" in line else line + ";tag=carrier"
                 for line in reply]
        self.sock.sendto(("\r\n".join(reply) + f"\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode(), peer)

    def requests_of(self, method):
        return [text for text in list(self.seen) if text.startswith(method + " ")]

    def valid(self, value, method):
        p = digest_parameters(value)
        if p.get("username") != TRUNK_USER or p.get("realm") != TRUNK_REALM:
            return False
        ha1, ha2 = md5(f"{TRUNK_USER}:{TRUNK_REALM}:{TRUNK_PASSWORD}"), md5(f"{method}:{p['uri']}")
        if p.get("qop") == "auth":
            expected = md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:auth:{ha2}")
        else:
            expected = md5(f"{ha1}:{p['nonce']}:{ha2}")
        return expected == p.get("response")

    def stop(self):
        self.stopping = True
        self.join(2)
        self.sock.close()
        self.media.close()


# --- the gateways and the edge ---

class Gateway:
    redis_url = None
    # Where calls out go: the edge's SIP port (the outbound proxy) and the trunk's, known before the gateways start.
    edge_port = None
    trunk_port = None
    dns_server = None

    def __init__(self, index, directory, sip_port=None, generation=0):
        self.index = index
        self.directory = directory
        self.host = GATEWAY_HOSTS[index]
        self.sip_port = sip_port or free_port(self.host)
        self.http_port = free_port(udp=False)
        name = f"gateway{index}" + (f"-{generation}" if generation else "")
        data = Path(directory) / name
        data.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(data),
            "ANSWER_NINJA_DATA_DIR": str(data),
            "ANSWER_NINJA_HTTP_HOST": "127.0.0.1",
            "ANSWER_NINJA_HTTP_PORT": str(self.http_port),
            "ANSWER_NINJA_SIP_HOST": self.host,
            "ANSWER_NINJA_SIP_PORT": str(self.sip_port),
            "ANSWER_NINJA_MEDIA_RTP_PORT_MIN": str(RTP_RANGES[index][0]),
            "ANSWER_NINJA_MEDIA_RTP_PORT_MAX": str(RTP_RANGES[index][1]),
            "ANSWER_NINJA_SIP_TRUSTED_SOURCES": "127.0.0.1",
            "ANSWER_NINJA_SIP_ANSWER_MODE": "greeting",
            "ANSWER_NINJA_SIP_DEVICE_ACCOUNTS": f"alice:{DEVICE_PASSWORD}",
            "ANSWER_NINJA_SHUTDOWN_GRACE": "30s",
            "ANSWER_NINJA_LOG_FORMAT": "text",
        }
        if Gateway.edge_port:
            # Calls out go to the trunk through the edge, which registers for the gateways (as in Kubernetes); the
            # gateways share the caller-profile key, and with it their digest nonces.
            env.update({
                "ANSWER_NINJA_SIP_TRUNK_REGISTRAR": f"sip:127.0.0.1:{Gateway.trunk_port}",
                "ANSWER_NINJA_SIP_TRUNK_USERNAME": TRUNK_USER,
                "ANSWER_NINJA_SIP_TRUNK_PASSWORD": TRUNK_PASSWORD,
                "ANSWER_NINJA_SIP_TRUNK_REGISTER": "off",
                "ANSWER_NINJA_SIP_OUTBOUND_PROXY": f"sip:{EDGE_NAME}:{Gateway.edge_port};transport=tcp",
                "ANSWER_NINJA_SIP_DNS_SERVER": Gateway.dns_server,
                "ANSWER_NINJA_STORE_PROFILE_KEY": "5a" * 32,
            })
        if Gateway.redis_url:
            # The gateways behind one edge share a cache: devices one of them registered are rung by any (by Path).
            env["ANSWER_NINJA_CACHE_REDIS_URL"] = Gateway.redis_url
        self.process = Process(name, [str(BINARY), "gateway"], directory, env)

    def wait_ready(self):
        wait_for(f"gateway{self.index} /ready", lambda: self.process.popen.poll() is None and
                 http_get(f"http://127.0.0.1:{self.http_port}/ready")[0] == 200 or self.fail_if_exited(), 60)

    def fail_if_exited(self):
        if self.process.popen.poll() is not None:
            pytest.fail(f"gateway{self.index} exited with {self.process.popen.returncode}\n{self.process.tail()}")
        return False

    def counter(self, name, **labels):
        """The value of one counter in this gateway's /metrics (0 when absent)."""
        status, text = http_get(f"http://127.0.0.1:{self.http_port}/metrics")
        assert status == 200, f"gateway{self.index} /metrics answered {status}"
        total = 0.0
        for line in text.splitlines():
            match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
            if match:
                found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
                if all(found.get(k) == v for k, v in labels.items()):
                    total += float(match.group(2))
        return total

    def invites(self):
        return self.counter("sip_messages_total", direction="in", method="INVITE")

    @property
    def uri(self):
        return f"sip:{self.host}:{self.sip_port}"


class Edge:
    def __init__(self, directory, gateways, trunk, sip_port):
        self.directory = Path(directory)
        self.sip_port = sip_port
        self.tls_port = free_port(udp=False)
        self.metrics_port = free_port(udp=False)
        self.ctl = f"unix:{self.directory / 'kamailio_ctl'}"
        (self.directory / "dispatcher.list").write_text(
            "".join(f"1 {g.uri} 0 0 duid=gateway{g.index}\n" for g in gateways))
        self.certificate, self.key = self.directory / "edge.crt", self.directory / "edge.key"
        subprocess.run([tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-keyout", str(self.key), "-out", str(self.certificate), "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
        # The shipped TLS profiles, pointed at this certificate.
        tls_config = (EDGE / "tls.cfg").read_text()
        assert "/etc/kamailio/tls/tls.crt" in tls_config and "/etc/kamailio/tls/tls.key" in tls_config
        tls_config = tls_config.replace("/etc/kamailio/tls/tls.crt", str(self.certificate))
        (self.directory / "tls.cfg").write_text(tls_config.replace("/etc/kamailio/tls/tls.key", str(self.key)))
        # The trunk registration table: the shipped example with its placeholders filled in.
        uacreg = self.directory / "uacreg"
        uacreg.mkdir()
        shutil.copy(EDGE / "uacreg" / "version", uacreg / "version")
        table = (EDGE / "uacreg" / "uacreg.example").read_text()
        for placeholder, value in {"TRUNK_NUMBER": "demo", "TRUNK_DOMAIN": "127.0.0.1",
                                   "TRUNK_USERNAME": TRUNK_USER, "TRUNK_AUTH_USERNAME": TRUNK_USER,
                                   "TRUNK_PASSWORD": TRUNK_PASSWORD,
                                   "TRUNK_PROXY": f"127.0.0.1\\:{trunk.port}"}.items():
            table = table.replace(placeholder, value)
        (uacreg / "uacreg").write_text(table)
        defines = {
            "LISTEN_ADDR": "127.0.0.1", "SIP_PORT": self.sip_port, "TLS_PORT": self.tls_port, "CHILDREN": 2,
            "DISPATCHER_LIST": f'"{self.directory / "dispatcher.list"}"',
            "TLS_CONFIG": f'"{self.directory / "tls.cfg"}"',
            "CTL_SOCKET": f'"{self.ctl}"',
            "DS_PING_INTERVAL": 1, "DS_PROBING_THRESHOLD": 1, "DS_INACTIVE_THRESHOLD": 1,
            "TRUSTED_NETS": '"127.0.0.1/32"',
            "PIKE_DENSITY": PIKE_DENSITY, "INVITE_PIPE": f'"1:TAILDROP:{INVITES_PER_SECOND}"',
            "WITH_TRUNK_REGISTRATION": None, "UACREG_DB_URL": f'"text://{uacreg}"',
            "REG_CONTACT_ADDR": f'"127.0.0.1:{self.sip_port}"', "REG_TIMER_INTERVAL": 1,
            "EDGE_ALIAS": f'"{EDGE_NAME}"',
            "WITH_METRICS": None, "METRICS_PORT": self.metrics_port,
        }
        args = [tool("kamailio"), "-f", str(EDGE / "kamailio.cfg"), "-DD", "-E", "-m", "64", "-M", "8",
                "-w", str(self.directory), "-P", str(self.directory / "kamailio.pid")]
        for name, value in defines.items():
            args += ["-A", name if value is None else f"{name}={value}"]
        self.args = args
        self.process = Process("kamailio", args, directory)

    def wait_ready(self):
        def up():
            if self.process.popen.poll() is not None:
                pytest.fail(f"kamailio exited with {self.process.popen.returncode}\n{self.process.tail()}")
            return options(self.sip_port) == 200
        wait_for("kamailio to answer OPTIONS", up, 30)

    def dispatcher_flags(self):
        """Each gateway URI's dispatcher flags (AP active, IP inactive, ...) from `kamcmd dispatcher.list`."""
        result = subprocess.run([tool("kamcmd"), "-s", self.ctl, "dispatcher.list"], capture_output=True,
                                text=True, timeout=10)
        assert result.returncode == 0, result.stderr
        return dict(re.findall(r"URI:\s*(\S+)\s+FLAGS:\s*(\S+)", result.stdout))


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    for name in ("kamailio", "kamcmd", "openssl", "dnsmasq"):
        tool(name)
    assert BINARY.exists(), f"{BINARY} is missing: build first (swift build)"
    directory = tmp_path_factory.mktemp("edge")
    trunk = Trunk()
    trunk.start()
    started = []
    try:
        redis_port = free_port(udp=False)
        redis = Process("redis", [tool("redis-server"), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", str(directory)], directory)
        started.append(redis)
        wait_for("redis to answer", lambda: redis_ping(redis_port), 20)
        Gateway.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        dns_port = free_port()
        dnsmasq = Process("dnsmasq", [tool("dnsmasq"), "--keep-in-foreground", f"--port={dns_port}", "--listen-address=127.0.0.1",
                                      "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                                      f"--pid-file={directory / 'dnsmasq.pid'}", "--user=root", "--group=root",
                                      "--local=/test/", f"--host-record={EDGE_NAME},127.0.0.1", "--log-facility=-"], directory)
        started.append(dnsmasq)
        wait_for("dnsmasq to start", lambda: "started, version" in dnsmasq.tail(), 10)
        Gateway.edge_port, Gateway.trunk_port, Gateway.dns_server = free_port(), trunk.port, f"127.0.0.1:{dns_port}"
        gateways = [Gateway(i, directory) for i in range(2)]
        started += [g.process for g in gateways]
        for gateway in gateways:
            gateway.wait_ready()
        kamailio = Edge(directory, gateways, trunk, Gateway.edge_port)
        started.append(kamailio.process)
        kamailio.wait_ready()
        wait_for("both gateways active in the dispatcher",
                 lambda: all(f.startswith("A") for f in kamailio.dispatcher_flags().values()) and
                 len(kamailio.dispatcher_flags()) == 2, 10)
        yield kamailio, gateways, trunk
    finally:
        for process in reversed(started + RESTARTED):
            process.stop()
        trunk.stop()


def call(edge, *extra, duration=2, transport=None, user="demo"):
    """`answer-ninja call` through the edge; the Popen (stdout: one JSON line)."""
    port = edge.tls_port if transport == "tls" else edge.sip_port
    args = [str(BINARY), "call", f"sip:{user}@127.0.0.1:{port}", "--duration", str(duration), "--json", *extra]
    if transport:
        args += ["--transport", transport]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "ANSWER_NINJA_LOG_FORMAT": "text"})


def finished(process, timeout, context=""):
    """The JSON result of a call process that must exit 0 within `timeout` seconds."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"call did not end within {timeout}s\n{err}\n{context}")
    assert process.returncode == 0, f"call exited {process.returncode}: {out}\n{err}\n{context}"
    return json.loads(out.strip().splitlines()[-1])


# --- the checks ---

@pytest.mark.parametrize("defines", [[], ["-A", "WITH_TRUNK_REGISTRATION", "-A", "WITH_DS_RELOAD", "-A", "WITH_METRICS"],
                                     ["-A", "WITHOUT_TLS", "-A", 'GATEWAY_NETS="10.0.0.0/16"']])
def test_kamailio_accepts_the_configuration(defines):
    result = subprocess.run([tool("kamailio"), "-c", "-f", str(EDGE / "kamailio.cfg"), *defines],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "config file ok" in result.stdout + result.stderr, result.stdout + result.stderr


def test_the_dispatcher_list_example_names_the_gateway_pods():
    lines = [line.split() for line in (EDGE / "dispatcher.list").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines, "dispatcher.list has no destination"
    for setid, uri, flags, *_ in lines:
        pod = r"sip:gateway-\d+\.gateway-sip\.answer-ninja\.svc\.cluster\.local:5060"
        assert setid == "1" and re.fullmatch(pod, uri), uri
        # 16: not looked up at load (a pod that does not exist yet must not fail the load); 1: inactive until probed.
        assert int(flags) & 16 and int(flags) & 1, flags


def test_kustomize_renders_the_files_as_one_configmap():
    rendered = subprocess.run([tool("kubectl"), "kustomize", str(EDGE)], capture_output=True, text=True, timeout=60)
    assert rendered.returncode == 0, rendered.stderr
    objects = list(yaml.safe_load_all(rendered.stdout))
    assert [o["kind"] for o in objects] == ["ConfigMap"], [o["kind"] for o in objects]
    assert objects[0]["metadata"]["name"].startswith("kamailio-config")
    assert objects[0]["metadata"]["labels"]["app.kubernetes.io/component"] == "kamailio"
    expected = {name: (EDGE / name).read_text() for name in ("kamailio.cfg", "dispatcher.list", "tls.cfg")}
    expected["uacreg-version"] = (EDGE / "uacreg" / "version").read_text()
    assert objects[0]["data"] == expected


def test_the_shipped_dispatcher_list_loads_with_no_gateway_resolvable(tmp_path):
    """The Kubernetes list names pods that may not exist (no DNS here at all): Kamailio still starts, every gateway
    is inactive until a probe answers, and a new call gets 503 rather than going nowhere."""
    port = free_port()
    ctl = f"unix:{tmp_path / 'ctl'}"
    metrics = free_port(udp=False)
    args = [tool("kamailio"), "-f", str(EDGE / "kamailio.cfg"), "-DD", "-E", "-m", "32", "-M", "4", "-w", str(tmp_path),
            "-P", str(tmp_path / "kamailio.pid"), "-A", "WITHOUT_TLS", "-A", "LISTEN_ADDR=127.0.0.1",
            "-A", f"SIP_PORT={port}", "-A", "CHILDREN=1", "-A", f'CTL_SOCKET="{ctl}"',
            "-A", f'DISPATCHER_LIST="{EDGE / "dispatcher.list"}"', "-A", "DS_PING_INTERVAL=1",
            "-A", "WITH_METRICS", "-A", f"METRICS_PORT={metrics}"]
    kamailio = Process("kamailio-k8s-list", args, tmp_path)
    try:
        wait_for("kamailio to answer OPTIONS", lambda: kamailio.popen.poll() is None and options(port) == 200 or
                 (kamailio.popen.poll() is not None and pytest.fail(kamailio.tail())), 20)
        listing = subprocess.run([tool("kamcmd"), "-s", ctl, "dispatcher.list"], capture_output=True, text=True,
                                 timeout=10).stdout
        flags = re.findall(r"FLAGS:\s*(\S+)", listing)
        assert len(flags) == 10 and all(f.startswith("I") for f in flags), listing
        with udp_socket() as sock:
            sock.sendto(sip_request("INVITE", f"sip:demo@127.0.0.1:{port}", sock=sock), ("127.0.0.1", port))
            response = final_response(sock, 3)
        assert response and response.startswith("SIP/2.0 503 No Gateway Available"), response
        # Counted: what AnswerNinjaEdgeNoGateway fires on; and not ready (the readiness probe keeps traffic away).
        assert refused(metrics, "no_gateway") == 1
        assert http_get(f"http://127.0.0.1:{metrics}/ready")[0] == 503
    finally:
        kamailio.stop()


def test_the_edge_serves_its_metrics_on_the_metrics_port_only(edge):
    """WITH_METRICS: xhttp_prom on METRICS_PORT. xhttp takes HTTP on every TCP listener, so the SIP port (the load
    balancer's) must refuse it, and so must any other path."""
    kamailio, _, _ = edge
    series = edge_metrics(kamailio.metrics_port)
    for reason in ("pike", "rate_limit", "no_gateway", "malformed", "loop"):
        assert ("kamailio_edge_refused_total", frozenset({("reason", reason)})) in series, reason
    assert any(name == "kamailio_core_rcv_requests" for name, _ in series)
    assert http_get(f"http://127.0.0.1:{kamailio.sip_port}/metrics")[0] == 403
    assert http_get(f"http://127.0.0.1:{kamailio.metrics_port}/")[0] == 403
    # Ready: a gateway is active.
    assert http_get(f"http://127.0.0.1:{kamailio.metrics_port}/ready")[0] == 200


def test_every_edge_metric_used_in_deploy_is_in_its_scrape(edge):
    """The alerts and dashboards of deploy/monitoring that read the edge (kamailio_*) read series a real scrape of it
    has, with the labels and label values they match on."""
    kamailio, _, _ = edge
    series = edge_metrics(kamailio.metrics_port)
    names = {name for name, _ in series}
    labels = {}
    for name, pairs in series:
        for label, value in pairs:
            labels.setdefault((name, label), set()).add(value)
    used = {name: places for name, places in deploy_metrics.metric_names_used(ROOT).items() if name.startswith("kamailio_")}
    assert {"kamailio_edge_refused_total", "kamailio_shmem_real_used_size"} <= set(used), sorted(used)
    problems = [f"{name}: {', '.join(places)}" for name, places in used.items() if name not in names]
    for relative, where, name, matchers in deploy_metrics.selectors_used(ROOT):
        if not name.startswith("kamailio_"):
            continue
        for label, op, value in matchers:
            if label in {"namespace", "job", "pod", "instance", "service", "endpoint", "container"}:
                continue
            seen = labels.get((name, label))
            if seen is None:
                problems.append(f"{relative}: {where}: {name} has no label {label}")
            elif op == "=" and value not in seen:
                problems.append(f"{relative}: {where}: {name}{{{label}={value!r}}}, the scrape has {sorted(seen)}")
            elif op == "=~" and not any(re.fullmatch(value, v) for v in seen):
                problems.append(f"{relative}: {where}: {name}{{{label}=~{value!r}}} matches none of {sorted(seen)}")
    assert not problems, "\n".join(problems)


def test_calls_spread_over_both_gateways_and_end_normally(edge):
    kamailio, gateways, _ = edge
    before = [g.invites() for g in gateways]
    received = lambda method: sum(g.counter("sip_messages_total", direction="in", method=method) for g in gateways)
    in_dialog = [received("ACK"), received("BYE")]
    calls = []
    for _ in range(4):
        calls.append(call(kamailio))
        time.sleep(0.2)
    for process in calls:
        result = finished(process, 20, kamailio.process.tail())
        assert result["answered"] and result["status_code"] == 200, result
        # The caller hung up at --duration: its BYE went through the edge by Record-Route and got its answer.
        assert result["hangup_side"] == "local" and result["packets_received"] > 0, result
    gained = [g.invites() - b for g, b in zip(gateways, before)]
    assert all(n >= 1 for n in gained) and sum(gained) >= 4, f"INVITEs per gateway: {gained}"
    # Each call's ACK and BYE reached its gateway: the caller sends them to the edge, which relays requests inside a
    # dialog only by the Route set its Record-Route made.
    after = [received("ACK"), received("BYE")]
    assert all(a - b >= 4 for a, b in zip(after, in_dialog)), f"ACK, BYE: {in_dialog} before, {after} after"


def ring_and_refuse(kamailio, gateway, sock):
    """`gateway` rings alice (POST /internal/devices/alice/call); the INVITE must reach `sock` through the edge with
    the edge's Record-Route and no Route left; the device answers 486; returns the status the gateway reports."""
    ring = {}
    ringer = threading.Thread(target=lambda: ring.update(result=http_post(
        f"http://127.0.0.1:{gateway.http_port}/internal/devices/alice/call?seconds=2", timeout=20)))
    ringer.start()
    invite = None
    sock.settimeout(10)
    try:
        while invite is None:
            data = sock.recv(65535).decode(errors="replace")
            if data.startswith("INVITE "):
                invite = data
    except socket.timeout:
        pass
    assert invite, f"the device was not rung\n{kamailio.process.tail()}\n{gateway.process.tail()}"
    assert not header(invite, "Route"), invite
    assert any(f"127.0.0.1:{kamailio.sip_port}" in rr for rr in header(invite, "Record-Route")), invite
    busy = ["SIP/2.0 486 Busy Here", *[f"Via: {v}" for v in header(invite, "Via")],
            f"From: {header(invite, 'From')[0]}", f"To: {header(invite, 'To')[0]};tag=busy1",
            f"Call-ID: {header(invite, 'Call-ID')[0]}", f"CSeq: {header(invite, 'CSeq')[0]}", "Content-Length: 0", "", ""]
    sock.sendto("\r\n".join(busy).encode(), ("127.0.0.1", kamailio.sip_port))
    ringer.join(25)
    status, body = ring.get("result", (None, ""))
    assert status == 200, body
    calls = json.loads(body)["calls"]
    assert len(calls) == 1 and calls[0]["answered"] is False, body
    return calls[0]["status_code"]


def test_a_device_registers_through_the_edge_with_one_gateway_and_is_rung_by_its_path(edge):
    kamailio, gateways, _ = edge
    before = [g.counter("sip_messages_total", direction="in", method="REGISTER") for g in gateways]
    uri = f"sip:127.0.0.1:{kamailio.sip_port}"
    call_id = uuid.uuid4().hex
    with udp_socket() as sock:
        # The Contact names a port nothing listens on, as a device behind NAT writes its private address: only the
        # Path's received address (this socket) reaches the device.
        contact = f"Contact: <sip:alice@127.0.0.1:{free_port(tcp=False)}>;expires=120"
        to = f"sip:alice@127.0.0.1:{kamailio.sip_port}"
        sock.sendto(sip_request("REGISTER", uri, sock=sock, call_id=call_id, from_user="alice",
                                to_uri=to, headers=[contact]), ("127.0.0.1", kamailio.sip_port))
        challenge = final_response(sock, 3)
        assert status_of(challenge) == 401, challenge
        md5_challenge = next((c for c in header(challenge, "WWW-Authenticate") if "MD5" in c.upper()), None)
        assert md5_challenge, challenge
        answer = digest_answer(md5_challenge, "REGISTER", uri, "alice", DEVICE_PASSWORD)
        sock.sendto(sip_request("REGISTER", uri, sock=sock, call_id=call_id, cseq=2,
                                from_user="alice", to_uri=to, headers=[contact, f"Authorization: {answer}"]),
                    ("127.0.0.1", kamailio.sip_port))
        ok = final_response(sock, 3)
        # The gateway that challenged checked the answer: both REGISTERs reached it (hash over the To URI).
        assert status_of(ok) == 200, f"{ok}\n{kamailio.process.tail()}"
        gained = [g.counter("sip_messages_total", direction="in", method="REGISTER") - b for g, b in zip(gateways, before)]
        assert sorted(gained) == [0, 2], f"REGISTERs per gateway: {gained}"

        # That gateway rings the device through the edge by the REGISTER's Path (RFC 3327): the INVITE reaches this
        # socket with the edge's Record-Route and no Route left; the device is busy (486), and the gateway hears so.
        holder = gateways[gained.index(2)]
        assert ring_and_refuse(kamailio, holder, sock) == 486
        # The other gateway never saw the REGISTER, but learnt the binding on the shared cache's bus: it rings the
        # device through the same edge by the same Path.
        other = gateways[gained.index(0)]
        assert ring_and_refuse(kamailio, other, sock) == 486

        # The holder restarts (a rollout): the new process knows no device. It asks the others on the bus for what
        # they know, its own former bindings included, and rings the device again.
        assert holder.process.stop() == 0
        back = Gateway(holder.index, holder.directory, sip_port=holder.sip_port, generation=10)
        RESTARTED.append(back.process)
        gateways[gateways.index(holder)] = back
        back.wait_ready()
        wait_for("the other gateway to share what it knows with the restarted one",
                 lambda: "device bindings shared with a gateway that started" in other.process.tail(400), 25)
        assert ring_and_refuse(kamailio, back, sock) == 486
        wait_for(f"the dispatcher to mark gateway{back.index} active again",
                 lambda: kamailio.dispatcher_flags().get(back.uri, "").startswith("A"), 10)


def test_a_call_over_tls_to_the_edge(edge):
    kamailio, gateways, _ = edge
    before = sum(g.invites() for g in gateways)
    result = finished(call(kamailio, "--ca", str(kamailio.certificate), transport="tls", duration=1), 20,
                      kamailio.process.tail())
    assert result["answered"] and result["hangup_side"] == "local", result
    assert sum(g.invites() for g in gateways) > before


def test_a_device_calls_out_through_the_edge_to_the_trunk(edge):
    kamailio, gateways, trunk = edge
    before = [g.invites() for g in gateways]
    # alice's phone dials a national number through the edge. The gateway the edge gives the INVITE to challenges it
    # (407); the answer, a new INVITE, is dispatched round robin, to the other gateway, which must take the nonce.
    process = call(kamailio, "--from", "alice", "--password", DEVICE_PASSWORD, duration=1, user="4155550142")
    logs = "\n".join([kamailio.process.tail(), *(g.process.tail() for g in gateways)])
    result = finished(process, 30, logs)
    assert result["answered"], result
    placed = [g.process.log_path.read_text(errors="replace").count("calling out") for g in gateways]
    assert sorted(placed) == [0, 1], f"gateways that placed the call: {placed}\n{logs}"
    # The other one saw one INVITE (the challenged one; the INVITE counter of the one that placed the call also counts
    # the trunk's responses).
    challenger = gateways[placed.index(0)]
    assert challenger.invites() - before[placed.index(0)] == 1, f"{challenger.invites() - before[placed.index(0)]}\n{logs}"
    wait_for("the BYE at the trunk", lambda: trunk.requests_of("BYE"), 10)

    invites = trunk.requests_of("INVITE")
    assert len(invites) == 2, invites  # the first one challenged, the second with the trunk's credentials
    # The 407 is ACKed by the edge's own transaction (RFC 3261 §17.1.1.3: hop by hop); the 200 by the gateway.
    acks = trunk.requests_of("ACK")
    assert any("CSeq: 1 ACK" in a and len(header(a, "Via")) == 1 for a in acks), acks
    answered = [a for a in acks if "CSeq: 2 ACK" in a]
    assert answered, acks
    for request in invites + answered + trunk.requests_of("BYE"):
        # Through the edge: its Via on top, the gateway's below, and no Route left for the trunk.
        vias = header(request, "Via")
        assert f"127.0.0.1:{kamailio.sip_port}" in vias[0], request
        assert any(host in vias[1] for host in GATEWAY_HOSTS), request
        assert not header(request, "Route"), request
    assert invites[0].startswith(f"INVITE sip:+14155550142@127.0.0.1:{trunk.port};user=phone SIP/2.0"), invites[0]
    credentials = digest_parameters(header(invites[1], "Proxy-Authorization")[0])
    assert credentials["username"] == TRUNK_USER and credentials["realm"] == TRUNK_REALM, invites[1]
    assert any(f"127.0.0.1:{kamailio.sip_port}" in r for r in header(invites[1], "Record-Route")), invites[1]


def call_asserting(kamailio, src, asserted):
    """An INVITE from `src` through the edge with a P-Asserted-Identity, answered, ACKed and hung up by hand; its
    Call-ID."""
    call_id = uuid.uuid4().hex
    target = f"sip:demo@127.0.0.1:{kamailio.sip_port}"
    with udp_socket(src) as sock, udp_socket(src) as media:
        port = sock.getsockname()[1]
        sdp = (f"v=0\r\no=probe 1 1 IN IP4 {src}\r\ns=-\r\nc=IN IP4 {src}\r\nt=0 0\r\n"
               f"m=audio {media.getsockname()[1]} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
        sock.sendto(sip_request("INVITE", target, src=src, sock=sock, call_id=call_id, body=sdp, headers=[
            f"P-Asserted-Identity: <sip:{asserted}@{src}>", f"Contact: <sip:probe@{src}:{port}>", "Content-Type: application/sdp",
        ]), ("127.0.0.1", kamailio.sip_port))
        ok = final_response(sock, 10)
        assert status_of(ok) == 200, f"{ok}\n{kamailio.process.tail()}"
        # In the dialog: to the gateway's Contact, by the edge's Record-Route (reversed, as a UAC does).
        remote = re.search(r"<([^>]+)>", header(ok, "Contact")[0]).group(1)
        routes = [f"Route: {r.strip()}" for line in reversed(header(ok, "Record-Route")) for r in reversed(line.split(","))]
        to = header(ok, "To")[0]
        for method, cseq in (("ACK", 1), ("BYE", 2)):
            lines = [f"{method} {remote} SIP/2.0",
                     f"Via: SIP/2.0/UDP {src}:{port};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport", "Max-Forwards: 70",
                     *routes, f"From: <sip:probe@{src}>;tag={call_id[:8]}", f"To: {to}", f"Call-ID: {call_id}",
                     f"CSeq: {cseq} {method}", "Content-Length: 0", "", ""]
            sock.sendto("\r\n".join(lines).encode(), ("127.0.0.1", kamailio.sip_port))
        assert status_of(final_response(sock, 10)) == 200, "the BYE was not answered"
    return call_id


def test_only_the_trunk_may_assert_an_identity_through_the_edge(edge):
    """RFC 3325: the gateways believe the P-Asserted-Identity of what the edge relays (it is in their
    sip.trusted_sources), so the edge removes it from everyone but the trunk (TRUSTED_NETS, here 127.0.0.1)."""
    kamailio, gateways, _ = edge

    def asserted(call_id):
        def line():
            return next((l for g in gateways for l in g.process.log_path.read_text(errors="replace").splitlines()
                         if "call answered" in l and call_id in l), None)
        wait_for("the gateway's call answered line", line, 10)
        match = re.search(r"asserted=(\S*)", line())
        assert match, line()
        return match.group(1)

    assert asserted(call_asserting(kamailio, "127.0.0.1", "+14155550100")) == "+14155550100"
    assert asserted(call_asserting(kamailio, "127.0.0.2", "+14155550100")) == ""


def test_a_devices_answer_is_good_for_its_own_request_uri_only(edge):
    """RFC 3261 §22.4: digest credentials name the Request-URI they were made for. An answer made for another number
    (one seen on the wire, replayed) gets 403, at whichever gateway the edge gives it to."""
    kamailio, _, _ = edge
    target = f"sip:4155550144@127.0.0.1:{kamailio.sip_port}"
    call_id = uuid.uuid4().hex
    with udp_socket() as sock:
        sdp = ("v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")

        def invite(cseq, extra):
            return sip_request("INVITE", target, sock=sock, call_id=call_id, cseq=cseq, from_user="alice", body=sdp,
                               headers=[f"Contact: <sip:alice@127.0.0.1:{sock.getsockname()[1]}>",
                                        "Content-Type: application/sdp", *extra])
        sock.sendto(invite(1, []), ("127.0.0.1", kamailio.sip_port))
        challenge = final_response(sock, 5)
        assert status_of(challenge) == 407, challenge
        md5_challenge = next(c for c in header(challenge, "Proxy-Authenticate") if "MD5" in c.upper())
        elsewhere = digest_answer(md5_challenge, "INVITE", f"sip:19005550100@127.0.0.1:{kamailio.sip_port}", "alice", DEVICE_PASSWORD)
        sock.sendto(invite(2, [f"Proxy-Authorization: {elsewhere}"]), ("127.0.0.1", kamailio.sip_port))
        refused = final_response(sock, 5)
    assert status_of(refused) == 403, refused


def test_a_call_out_outlives_its_connection_to_the_edge(edge):
    """The gateways reach the edge over TCP. When that connection closes mid-call (an edge pod restarts; here the
    kernel resets it), the gateway connects again and the call's BYE goes over the new connection: the far end's leg
    is not left up."""
    kamailio, gateways, trunk = edge
    invites = len(trunk.requests_of("INVITE"))
    process = call(kamailio, "--from", "alice", "--password", DEVICE_PASSWORD, duration=5, user="4155550143")
    wait_for("the call out answered", lambda: len(trunk.requests_of("INVITE")) >= invites + 2 and any(
        "CSeq: 2 ACK" in a and "4155550143" in a for a in trunk.requests_of("ACK")), 15)
    call_id = header(trunk.requests_of("INVITE")[-1], "Call-ID")[0]
    killed = subprocess.run([tool("ss"), "-K", "dst", "127.0.0.1", "dport", "=", f":{kamailio.sip_port}"],
                            capture_output=True, text=True, timeout=10)
    assert killed.returncode == 0 and any(host in killed.stdout for host in GATEWAY_HOSTS), killed.stdout + killed.stderr
    result = finished(process, 30, "\n".join([kamailio.process.tail(), *(g.process.tail() for g in gateways)]))
    assert result["answered"], result
    wait_for("the BYE at the trunk over the new connection",
             lambda: any(header(b, "Call-ID")[0] == call_id for b in trunk.requests_of("BYE")), 15)
    assert any("calls moved to a new trunk connection" in g.process.log_path.read_text(errors="replace") for g in gateways)


def test_the_edge_registers_with_the_trunk(edge):
    kamailio, _, trunk = edge
    wait_for("uac_reg's authenticated REGISTER at the trunk", lambda: trunk.accepted, 15)
    register = trunk.accepted[0]
    assert register.startswith("REGISTER sip:127.0.0.1 "), register.splitlines()[0]
    # The Contact the trunk will send calls to is the edge's (sip:<l_uuid>@REG_CONTACT_ADDR).
    assert any(f"sip:trunk@127.0.0.1:{kamailio.sip_port}" in c for c in header(register, "Contact")), register
    assert trunk.requests >= 2  # the first one was challenged
    # The trunk calls that Contact: the edge turns sip:trunk@edge into the registered number (l_username, here the
    # demo user's alias), which the gateway answers.
    result = finished(call(kamailio, duration=1, user="trunk"), 15, kamailio.process.tail())
    assert result["answered"], result


def test_invites_over_the_rate_get_503(edge):
    kamailio, _, _ = edge
    counted = refused(kamailio.metrics_port, "rate_limit")
    src = "127.0.0.3"  # not trusted, so rate limited; a handful of requests stays under pike's density
    with udp_socket(src) as sock:
        for _ in range(INVITES_PER_SECOND + 5):
            # No SDP: a gateway that gets one answers 400, so no call is set up.
            sock.sendto(sip_request("INVITE", f"sip:demo@127.0.0.1:{kamailio.sip_port}", src=src,
                                    sock=sock, headers=[f"Contact: <sip:probe@{src}:{sock.getsockname()[1]}>"]),
                        ("127.0.0.1", kamailio.sip_port))
        deadline = time.monotonic() + 3
        responses = []
        while len(responses) < INVITES_PER_SECOND + 5 and (left := deadline - time.monotonic()) > 0:
            response = final_response(sock, left)
            if response is None:
                break
            responses.append(response)
    call_ids = {}
    for response in responses:  # retransmitted finals count once
        call_ids[header(response, "Call-ID")[0]] = response.split("\r\n", 1)[0]
    codes = list(call_ids.values())
    limited = [c for c in codes if c.startswith("SIP/2.0 503 Rate Limited")]
    passed = [c for c in codes if not c.startswith("SIP/2.0 503")]
    assert len(limited) >= 4 and passed, codes
    assert refused(kamailio.metrics_port, "rate_limit") - counted == len(limited)


def test_a_flood_from_one_address_is_dropped(edge):
    kamailio, _, _ = edge
    counted = refused(kamailio.metrics_port, "pike")
    src = "127.0.0.2"
    burst = PIKE_DENSITY * 4
    with udp_socket(src) as sock:
        for _ in range(burst):
            sock.sendto(sip_request("OPTIONS", f"sip:127.0.0.1:{kamailio.sip_port}", src=src,
                                    sock=sock), ("127.0.0.1", kamailio.sip_port))
        answered = 0
        while final_response(sock, 1.0):
            answered += 1
    assert 0 < answered <= PIKE_DENSITY * 2, f"{answered} of {burst} OPTIONS answered"
    assert refused(kamailio.metrics_port, "pike") - counted >= burst - answered
    # The address stays blocked; a trusted one is still answered.
    assert options(kamailio.sip_port, src=src) is None
    assert options(kamailio.sip_port) == 200


def test_a_draining_gateway_gets_no_new_calls_and_finishes_its_own(edge):
    kamailio, gateways, _ = edge
    before = [g.invites() for g in gateways]
    long_call = call(kamailio, duration=8)
    try:
        def taken():
            gained = [g.invites() - b for g, b in zip(gateways, before)]
            return next((g for g, n in zip(gateways, gained) if n > 0), None)
        draining = wait_for("the long call to reach a gateway", taken, 5)
        other = gateways[1 - draining.index]
        draining.process.popen.send_signal(signal.SIGTERM)

        # The drain's signal to the edge: OPTIONS answered 503.
        wait_for(f"gateway{draining.index} to answer OPTIONS with 503",
                 lambda: options(draining.sip_port, host=draining.host) == 503, 5)
        wait_for(f"the dispatcher to mark gateway{draining.index} inactive",
                 lambda: kamailio.dispatcher_flags().get(draining.uri, "").startswith("I"), 5)
        assert kamailio.dispatcher_flags().get(other.uri, "").startswith("A")

        draining_before, other_before = draining.invites(), other.invites()
        for process in [call(kamailio, duration=1) for _ in range(3)]:
            result = finished(process, 15, kamailio.process.tail())
            assert result["answered"], result
        assert draining.invites() == draining_before, "a new call reached the draining gateway"
        assert other.invites() - other_before >= 3

        # The long call ran to its end: the caller hung up at 8 s, its BYE reached the draining gateway through
        # the edge.
        result = finished(long_call, 20, draining.process.tail())
        assert result["answered"] and result["hangup_side"] == "local" and result["recorded_seconds"] >= 6, result
        try:
            code = draining.process.popen.wait(15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"gateway{draining.index} still runs 15 s after its last call ended\n{draining.process.tail()}")
        assert code == 0, draining.process.tail()
        # The gateway saw the caller hang up (the BYE it got through the edge), not its own drain cutting the call.
        ended = [line for line in draining.process.log_path.read_text().splitlines() if "call ended" in line]
        assert ended and "hangup_side=remote" in ended[-1] and "shutting down" not in ended[-1], ended[-1:]
    finally:
        if long_call.poll() is None:
            long_call.kill()
            long_call.communicate()


def test_a_gateway_that_comes_back_is_used_and_one_that_dies_is_skipped(edge):
    kamailio, gateways, _ = edge
    survivor = next(g for g in gateways if g.process.popen.poll() is None)
    gone = gateways[1 - survivor.index]
    assert gone.process.popen.poll() is not None, "the drain test leaves one gateway stopped"
    # A new pod at the same address: the probes make it active again.
    back = Gateway(gone.index, survivor.directory, sip_port=gone.sip_port, generation=1)
    try:
        back.wait_ready()
        wait_for(f"the dispatcher to mark gateway{back.index} active again",
                 lambda: kamailio.dispatcher_flags().get(back.uri, "").startswith("A"), 10)
        before = back.invites()
        for process in [call(kamailio, duration=1) for _ in range(2)]:
            assert finished(process, 15, kamailio.process.tail())["answered"]
        assert back.invites() > before, "the gateway that came back got no call"

        # It dies without draining: calls placed at once still succeed (no answer within 2 s: the next gateway),
        # and the probes' timeouts mark it inactive.
        back.process.popen.kill()
        back.process.popen.wait(5)
        survivor_before = survivor.invites()
        for process in [call(kamailio, duration=1) for _ in range(2)]:
            assert finished(process, 20, kamailio.process.tail())["answered"]
        assert survivor.invites() - survivor_before >= 2
        wait_for(f"the dispatcher to mark the dead gateway{back.index} inactive",
                 lambda: kamailio.dispatcher_flags().get(back.uri, "").startswith("I"), 10)
    finally:
        back.process.stop()
