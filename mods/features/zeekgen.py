"""Seeded generator of realistic Zeek logs (conn, dns, http, ssl, ssh, sip) with incidents.

What it writes, for ``days`` days from ``start`` (UTC)::

    <out>/2019-06-01/conn.2019-06-01-00-00-00.log.gz     hourly rotated files, like Zeek's
    <out>/2019-06-01/dns.2019-06-01-00-00-00.log          archive (plain, gzip or both)
    ...
    <out>/incidents.tsv                                   the injected incidents

Files are Zeek TSV (full header, ``#close`` line) or Zeek JSON lines (``fmt="json"``), with
the fields of Zeek 2.6 (:data:`mods.features.zeek.ZEEK_FIELDS`).

The traffic follows a daily cycle (trough at 03:00, peak at 15:00 UTC, 40 % lower on
weekends) with Poisson counts around it. Hosts: local clients in ``10.0.0.0/22`` and
``192.168.1.0/24``, local servers in ``10.0.10.0/24`` (web, DNS, SSH, SIP), a pool of
public remote addresses. Each log type has its own mix of directions (DNS mostly internal,
SSH and SIP mostly incoming...), and about 2 % of the records are between two remote hosts
(they are ignored by the features).

Incidents (``incidents=True``: both on the first day, at seeded times), listed in
``incidents.tsv``:

* ``port_scan``: one remote host probes ~2500 ports of a local server within 20 minutes
  (``conn``: rejected or unanswered connections, no bytes);
* ``ssh_bruteforce``: one remote host makes ~600 SSH logins to a local server within
  30 minutes (``conn`` and ``ssh`` records, ``auth_success`` false).

Other incidents (times, hosts, sizes) may be given as a list.

Everything is drawn from random streams seeded from ``seed`` and the hour (and log type):
the same seed gives the same bytes (gzip headers carry no time), and a day's logs do not
depend on how many days are generated.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mods.errors import ConfigError, fail
from mods.files import atomic_write
from mods.features.zeek import ZEEK_FIELDS

#: Log types written, with their mean records per hour at the daily peak (scale 1).
RATES = {"conn": 4000, "dns": 2000, "http": 700, "ssl": 450, "ssh": 100, "sip": 50}
#: Shares of directions in, out, internal, transit (remote to remote) per log type.
DIRECTION_MIX = {
    "conn": (0.45, 0.20, 0.33, 0.02), "dns": (0.03, 0.02, 0.93, 0.02),
    "http": (0.70, 0.24, 0.04, 0.02), "ssl": (0.88, 0.06, 0.04, 0.02),
    "ssh": (0.93, 0.00, 0.05, 0.02), "sip": (0.98, 0.00, 0.00, 0.02),
}
LOG_TYPES = tuple(RATES)
COMPRESSIONS = ("gz", "plain", "mixed")
FORMATS = ("tsv", "json")

_HOUR = 3600
_B62 = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
_WORDS = ("mail portal intranet cdn api static login vpn wiki git news shop cloud db www "
          "media video auth update files docs app m time ntp ads track img search").split()
_TLDS = ("com net org sk eu io de cz info").split()
_AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/74.0",
           "Mozilla/5.0 (X11; Linux x86_64; rv:67.0) Gecko/20100101 Firefox/67.0",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_5) AppleWebKit/605.1.15 Safari/605.1",
           "curl/7.64.0", "Wget/1.20.1 (linux-gnu)", "python-requests/2.22.0",
           "Microsoft-CryptoAPI/10.0", "Debian APT-HTTP/1.3 (1.8.2)"]
_SIP_AGENTS = ["friendly-scanner", "sipcli/v1.8", "Asterisk PBX 13.18.3", "Linphone/3.6.1",
               "Zoiper rv2.8.116"]


@dataclass
class GenerateReport:
    """What :func:`generate_logs` wrote."""

    files: list = field(default_factory=list)
    records: dict = field(default_factory=dict)
    incidents: list = field(default_factory=list)

    @property
    def n_records(self) -> int:
        """Records over all log types."""
        return int(sum(self.records.values()))


# --------------------------------------------------------------------------------- hosts
def _hosts(seed):
    rng = np.random.default_rng([seed, 7, 7])
    clients = [f"10.0.{a}.{b}" for a in range(4) for b in range(1, 255)][:600]
    clients += [f"192.168.1.{b}" for b in range(1, 120)]
    servers = {"web": ["10.0.10.10", "10.0.10.11", "10.0.10.12"], "dns": ["10.0.10.53",
               "10.0.10.54"], "ssh": ["10.0.10.22", "10.0.10.23"], "sip": ["10.0.10.50"],
               "mail": ["10.0.10.25"]}
    firsts = [o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192)]
    octets = rng.integers(0, 256, size=(3000, 3))
    remote = [f"{rng.choice(firsts)}.{a}.{b}.{max(c, 1)}" for a, b, c in octets]
    remote = list(dict.fromkeys(remote))
    domains = [f"{rng.choice(_WORDS)}{i % 7 or ''}.{rng.choice(_WORDS)}{i}."
               f"{rng.choice(_TLDS)}" for i in range(1500)]
    return {"clients": np.array(clients), "servers": servers, "remote": np.array(remote),
            "domains": np.array(domains)}


def _zipf_pick(rng, pool, n, a=1.3):
    ranks = np.minimum(rng.zipf(a, size=n) - 1, len(pool) - 1)
    return np.asarray(pool)[ranks]


def _uids(rng, n, prefix="C"):
    idx = rng.integers(0, 62, size=(n, 17))
    return np.array([prefix + "".join(row) for row in _B62[idx]]) if n else np.array([], str)


def _diurnal(hour_of_day, weekday):
    level = 0.4 + 0.6 * (0.5 - 0.5 * np.cos(2 * np.pi * (hour_of_day - 3) / 24))
    return level * (0.6 if weekday >= 5 else 1.0)


# ------------------------------------------------------------------------------- records
def _endpoints(rng, hosts, log_type, n):
    """Originator / responder addresses of ``n`` records of ``log_type``."""
    mix = np.array(DIRECTION_MIX[log_type])
    dirs = rng.choice(4, size=n, p=mix / mix.sum())
    role = {"conn": "web", "dns": "dns", "http": "web", "ssl": "web", "ssh": "ssh",
            "sip": "sip"}[log_type]
    servers = hosts["servers"][role]
    clients = _zipf_pick(rng, hosts["clients"], n, 1.2)
    remote_o = _zipf_pick(rng, hosts["remote"], n, 1.1)
    remote_r = _zipf_pick(rng, hosts["remote"], n, 1.5)
    local_srv = np.asarray(servers)[rng.integers(0, len(servers), n)]
    if log_type == "conn":  # incoming connections also reach clients (P2P, VPN...)
        local_srv = np.where(rng.random(n) < 0.3, clients[::-1], local_srv)
    orig = np.select([dirs == 0, dirs == 3], [remote_o, remote_r[::-1]], clients)
    resp = np.select([dirs == 0, dirs == 1, dirs == 2], [local_srv, remote_r, local_srv],
                     remote_r)
    if log_type == "dns":  # internal DNS: clients ask the local resolvers
        resp = np.where(dirs == 2, np.asarray(servers)[rng.integers(0, len(servers), n)], resp)
    return orig, resp, dirs


def _fmt(values, fmt="{:.6f}", unset=None):
    out = [fmt.format(v) for v in values]
    if unset is not None:
        out = ["-" if u else s for s, u in zip(out, unset)]
    return out


def _records(rng, hosts, log_type, ts, orig=None, resp=None, **overrides):
    """Columns (lists of text, Zeek TSV cells) of ``len(ts)`` records of ``log_type``."""
    n = len(ts)
    if orig is None:
        orig, resp, _ = _endpoints(rng, hosts, log_type, n)
    cols = {"ts": _fmt(ts), "uid": list(_uids(rng, n)), "id.orig_h": list(orig),
            "id.orig_p": list(rng.integers(1024, 65536, n).astype(str)), "id.resp_h": list(resp)}
    make = globals()["_" + log_type]
    cols.update(make(rng, hosts, n))
    cols.update(overrides)
    return cols


def _conn(rng, hosts, n):
    svc = rng.choice(6, size=n, p=[0.35, 0.35, 0.1, 0.05, 0.05, 0.1])
    ports = np.array([80, 443, 53, 22, 123, 0])[svc]
    ports = np.where(ports == 0, rng.integers(1, 65536, n), ports)
    proto = np.where((svc == 2) | (svc == 4), "udp", "tcp")
    service = np.array(["http", "ssl", "dns", "ssh", "-", "-"])[svc]
    no_reply = rng.random(n) < 0.12
    duration = rng.lognormal(-0.5, 1.6, n)
    orig_bytes = np.round(rng.lognormal(6.0, 1.5, n)).astype(np.int64)
    resp_bytes = np.round(rng.lognormal(8.5, 2.2, n)).astype(np.int64)
    state = np.where(no_reply, np.where(rng.random(n) < 0.5, "S0", "REJ"),
                     np.where(rng.random(n) < 0.9, "SF", "RSTO"))
    return {"id.resp_p": list(ports.astype(str)), "proto": list(proto), "service": list(service),
            "duration": _fmt(duration, unset=no_reply),
            "orig_bytes": _fmt(orig_bytes, "{}", no_reply),
            "resp_bytes": _fmt(resp_bytes, "{}", no_reply), "conn_state": list(state),
            "local_orig": ["-"] * n, "local_resp": ["-"] * n, "missed_bytes": ["0"] * n,
            "history": list(np.where(no_reply, "S", "ShADadFf")),
            "orig_pkts": list(np.maximum(orig_bytes // 500, 1).astype(str)),
            "orig_ip_bytes": list((orig_bytes + 40).astype(str)),
            "resp_pkts": list(np.where(no_reply, 0, resp_bytes // 1400 + 1).astype(str)),
            "resp_ip_bytes": list(np.where(no_reply, 0, resp_bytes + 40).astype(str)),
            "tunnel_parents": ["(empty)"] * n}


def _dns(rng, hosts, n):
    query = _zipf_pick(rng, hosts["domains"], n, 1.15)
    qtype = rng.choice(3, size=n, p=[0.7, 0.25, 0.05])
    nx = rng.random(n) < 0.08
    rejected = rng.random(n) < 0.01
    tcp = rng.random(n) < 0.01
    rtt = rng.lognormal(-4.5, 1.0, n)
    answered = ~nx & ~rejected
    addr = [f"93.184.{a}.{b}" for a, b in rng.integers(1, 255, size=(n, 2))]
    return {"id.resp_p": ["53"] * n, "proto": list(np.where(tcp, "tcp", "udp")),
            "trans_id": list(rng.integers(0, 65536, n).astype(str)),
            "rtt": _fmt(rtt, unset=rejected), "query": list(query), "qclass": ["1"] * n,
            "qclass_name": ["C_INTERNET"] * n,
            "qtype": list(np.array(["1", "28", "15"])[qtype]),
            "qtype_name": list(np.array(["A", "AAAA", "MX"])[qtype]),
            "rcode": list(np.where(rejected, "5", np.where(nx, "3", "0"))),
            "rcode_name": list(np.where(rejected, "REFUSED", np.where(nx, "NXDOMAIN",
                                                                       "NOERROR"))),
            "AA": list(np.where(rng.random(n) < 0.3, "T", "F")),
            "TC": list(np.where(rng.random(n) < 0.002, "T", "F")),
            "RD": list(np.where(rng.random(n) < 0.97, "T", "F")),
            "RA": list(np.where(rng.random(n) < 0.6, "T", "F")), "Z": ["0"] * n,
            "answers": [a if ok else "-" for a, ok in zip(addr, answered)],
            "TTLs": [f"{t}.000000" if ok else "-"
                     for t, ok in zip(rng.integers(30, 3600, n), answered)],
            "rejected": list(np.where(rejected, "T", "F"))}


def _http(rng, hosts, n):
    status = rng.choice(4, size=n, p=[0.8, 0.08, 0.08, 0.04])
    body = np.round(rng.lognormal(8, 2, n)).astype(np.int64)
    return {"id.resp_p": list(np.where(rng.random(n) < 0.9, "80", "8080")),
            "trans_depth": ["1"] * n,
            "method": list(np.where(rng.random(n) < 0.85, "GET", "POST")),
            "host": list(_zipf_pick(rng, hosts["domains"], n)),
            "uri": [f"/{w}/{i}.html" for w, i in zip(rng.choice(_WORDS, n),
                                                      rng.integers(0, 500, n))],
            "referrer": ["-"] * n, "version": ["1.1"] * n,
            "user_agent": list(_zipf_pick(rng, _AGENTS, n, 1.6)),
            "request_body_len": ["0"] * n, "response_body_len": list(body.astype(str)),
            "status_code": list(np.array(["200", "301", "404", "500"])[status]),
            "status_msg": list(np.array(["OK", "Moved Permanently", "Not Found",
                                         "Internal Server Error"])[status]),
            "info_code": ["-"] * n, "info_msg": ["-"] * n, "tags": ["(empty)"] * n,
            "username": ["-"] * n, "password": ["-"] * n, "proxied": ["-"] * n,
            "orig_fuids": ["-"] * n, "orig_filenames": ["-"] * n,
            "orig_mime_types": ["-"] * n, "resp_fuids": list(_uids(rng, n, "F")),
            "resp_filenames": ["-"] * n, "resp_mime_types": ["text/html"] * n}


def _ssl(rng, hosts, n):
    tls13 = rng.random(n) < 0.4
    return {"id.resp_p": ["443"] * n, "version": list(np.where(tls13, "TLSv13", "TLSv12")),
            "cipher": list(np.where(tls13, "TLS_AES_128_GCM_SHA256",
                                    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")),
            "curve": ["x25519"] * n, "server_name": list(_zipf_pick(rng, hosts["domains"], n)),
            "resumed": list(np.where(rng.random(n) < 0.3, "T", "F")), "last_alert": ["-"] * n,
            "next_protocol": list(np.where(rng.random(n) < 0.5, "h2", "-")),
            "established": list(np.where(rng.random(n) < 0.97, "T", "F")),
            "cert_chain_fuids": list(_uids(rng, n, "F")),
            "client_cert_chain_fuids": ["(empty)"] * n,
            "subject": ["CN=*.example.org"] * n, "issuer": ["CN=Let's Encrypt Authority X3"] * n,
            "client_subject": ["-"] * n, "client_issuer": ["-"] * n,
            "validation_status": ["-"] * n}


def _ssh(rng, hosts, n, success_rate=0.7):
    ok = rng.random(n) < success_rate
    return {"id.resp_p": ["22"] * n, "version": ["2"] * n,
            "auth_success": list(np.where(ok, "T", "F")),
            "auth_attempts": list(rng.integers(1, 4, n).astype(str)),
            "direction": ["INBOUND"] * n,
            "client": list(np.where(rng.random(n) < 0.7, "SSH-2.0-OpenSSH_7.4",
                                    "SSH-2.0-libssh2_1.8.0")),
            "server": ["SSH-2.0-OpenSSH_7.9p1 Debian-10"] * n,
            "cipher_alg": ["chacha20-poly1305@openssh.com"] * n, "mac_alg": ["umac-64-etm"] * n,
            "compression_alg": ["none"] * n, "kex_alg": ["curve25519-sha256"] * n,
            "host_key_alg": ["ecdsa-sha2-nistp256"] * n,
            "host_key": ["e4:ff:65:d7:be:5d:c8:44:1d:89:6b:50:f5:50:a0:ce"] * n}


def _sip(rng, hosts, n):
    method = rng.choice(np.array(["REGISTER", "OPTIONS", "INVITE"]), n, p=[0.6, 0.3, 0.1])
    ext = rng.integers(100, 999, n).astype(str)
    return {"id.orig_p": list(rng.choice(np.array(["5060", "5061", "5070"]), n)),
            "id.resp_p": ["5060"] * n, "trans_depth": ["0"] * n, "method": list(method),
            "uri": [f"sip:{e}@10.0.10.50" for e in ext], "date": ["-"] * n,
            "request_from": [f"\"{e}\" <sip:{e}@10.0.10.50>" for e in ext],
            "request_to": [f"<sip:{e}@10.0.10.50>" for e in ext],
            "response_from": ["-"] * n, "response_to": ["-"] * n, "reply_to": ["-"] * n,
            "call_id": list(_uids(rng, n, "")), "seq": [f"1 {m}" for m in method],
            "subject": ["-"] * n, "request_path": ["SIP/2.0/UDP 10.0.10.50:5060"] * n,
            "response_path": ["-"] * n, "user_agent": list(_zipf_pick(rng, _SIP_AGENTS, n, 1.4)),
            "status_code": list(np.where(rng.random(n) < 0.7, "401", "404")),
            "status_msg": ["-"] * n, "warning": ["-"] * n, "request_body_len": ["0"] * n,
            "response_body_len": ["0"] * n, "content_type": ["-"] * n}


# ----------------------------------------------------------------------------- incidents
def plan_incidents(start_s: int, seed: int) -> list[dict]:
    """The default incidents, on the first day at seeded times: a port scan between 03:00
    and 09:00 and an SSH brute force between 12:00 and 20:00 (UTC)."""
    rng = np.random.default_rng([seed, 99])
    scan_at = start_s + int(rng.integers(3 * 3600, 9 * 3600))
    brute_at = start_s + int(rng.integers(12 * 3600, 20 * 3600))
    return [{"type": "port_scan", "start": scan_at, "end": scan_at + 1200,
             "source": "185.220.101.7", "target": "10.0.10.11", "records": 2500},
            {"type": "ssh_bruteforce", "start": brute_at, "end": brute_at + 1800,
             "source": "45.95.168.21", "target": "10.0.10.22", "records": 600}]


def _incident_records(rng, hosts, incident, hour_start):
    """``{log_type: columns}`` of an incident's records falling in one hour."""
    lo, hi = max(incident["start"], hour_start), min(incident["end"], hour_start + _HOUR)
    if lo >= hi:
        return {}
    share = (hi - lo) / (incident["end"] - incident["start"])
    n = int(round(incident["records"] * share))
    ts = np.sort(rng.uniform(lo, hi, n))
    orig, resp = [incident["source"]] * n, [incident["target"]] * n
    if incident["type"] == "port_scan":
        conn = _records(rng, hosts, "conn", ts, orig, resp)
        conn.update({"id.resp_p": list(rng.permutation(np.arange(1, 65536))[:n].astype(str)),
                     "proto": ["tcp"] * n, "service": ["-"] * n, "duration": ["-"] * n,
                     "orig_bytes": ["-"] * n, "resp_bytes": ["-"] * n,
                     "conn_state": list(np.where(rng.random(n) < 0.7, "REJ", "S0")),
                     "history": ["S"] * n, "orig_pkts": ["1"] * n, "orig_ip_bytes": ["44"] * n,
                     "resp_pkts": ["0"] * n, "resp_ip_bytes": ["0"] * n})
        return {"conn": conn}
    conn = _records(rng, hosts, "conn", ts, orig, resp)
    conn.update({"id.resp_p": ["22"] * n, "service": ["ssh"] * n, "proto": ["tcp"] * n,
                 "duration": _fmt(rng.uniform(1.5, 4.0, n)),
                 "orig_bytes": list(rng.integers(1500, 2500, n).astype(str)),
                 "resp_bytes": list(rng.integers(2500, 3500, n).astype(str)),
                 "conn_state": ["SF"] * n})
    ssh = _records(rng, hosts, "ssh", ts, orig, resp, uid=conn["uid"])
    ssh.update(_ssh(rng, hosts, n, success_rate=0.0))
    ssh["auth_attempts"] = list(rng.integers(3, 7, n).astype(str))
    ssh["client"] = ["SSH-2.0-libssh_0.6.0"] * n
    return {"conn": conn, "ssh": ssh}


# -------------------------------------------------------------------------------- writing
def _stamp(seconds: int) -> str:
    return (_dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=seconds)).strftime(
        "%Y-%m-%d-%H-%M-%S")


def _iso(seconds: int) -> str:
    return (_dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=seconds)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _tsv_text(log_type, cols, hour_start):
    fields = ZEEK_FIELDS[log_type]
    names = [n for n, _ in fields]
    head = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)",
            "#unset_field\t-", f"#path\t{log_type}", f"#open\t{_stamp(hour_start)}",
            "#fields\t" + "\t".join(names), "#types\t" + "\t".join(t for _, t in fields)]
    body = "\n".join(map("\t".join, zip(*(cols[n] for n in names)))) if cols["ts"] else ""
    tail = f"#close\t{_stamp(hour_start + _HOUR)}"
    return "\n".join(head + ([body] if body else []) + [tail]) + "\n"


def _json_value(text, ztype):
    if text == "-":
        return None
    if ztype.startswith(("set[", "vector[")):
        if text == "(empty)":
            return []
        items = text.split(",")
        return [float(i) for i in items] if ztype == "vector[interval]" else items
    if ztype in ("count", "port", "int"):
        return int(text)
    if ztype in ("time", "interval", "double"):
        return float(text)
    if ztype == "bool":
        return text == "T"
    return "" if text == "(empty)" else text


def _json_text(log_type, cols):
    fields = ZEEK_FIELDS[log_type]
    lines = []
    for i in range(len(cols["ts"])):
        obj = {}
        for name, ztype in fields:
            value = _json_value(cols[name][i], ztype)
            if value is not None:
                obj[name] = value
        lines.append(json.dumps(obj, separators=(",", ":")))
    return "".join(line + "\n" for line in lines)


def _write(path: Path, text: str, compress: bool) -> None:
    data = text.encode("utf-8")
    if compress:  # no name, no time in the header: the same seed gives the same bytes
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0,
                           compresslevel=6) as gz:
            gz.write(data)
        data = buf.getvalue()
    atomic_write(path, data)


def _merge(base, extra):
    if not extra:
        return base
    order = np.argsort(np.array(base["ts"] + extra["ts"], dtype=float), kind="stable")
    out = {}
    for key in base:
        both = base[key] + extra[key]
        out[key] = [both[i] for i in order]
    return out


def expected_records(log_type: str = "conn", start="2019-06-01", days: int = 1,
                     scale: float = 1.0) -> float:
    """Expected number of ordinary records of ``log_type`` that :func:`generate_logs` writes.

    The mean of its Poisson draws (daily and weekly cycle included, injected incidents not),
    e.g. to choose the ``scale`` that gives a day of 5 million ``conn`` records.

    Parameters
    ----------
    log_type : str
        One of :data:`LOG_TYPES`.
    start : str
        First day (UTC).
    days : int
        Number of days.
    scale : float
        Traffic scale.

    Returns
    -------
    float
    """
    if log_type not in RATES:
        raise fail(ConfigError, f"unknown log type {log_type!r}: expected one of "
                   f"{', '.join(LOG_TYPES)}")
    day0 = _dt.datetime.strptime(str(start), "%Y-%m-%d")
    start_s = int((day0 - _dt.datetime(1970, 1, 1)).total_seconds())
    total = 0.0
    for h in range(days * 24):
        when = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=start_s + h * _HOUR)
        total += RATES[log_type] * scale * _diurnal(when.hour + 0.5, when.weekday())
    return total


def generate_logs(out_dir, start="2019-06-01", days=1, seed=0, scale=1.0, fmt="tsv",
                  compress="mixed", incidents=True, log_types=LOG_TYPES,
                  progress=None) -> GenerateReport:
    """Write ``days`` days of hourly rotated Zeek logs under ``out_dir``.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Destination folder (created); one sub-folder per day.
    start : str, default ``"2019-06-01"``
        First day (UTC).
    days : int, default 1
        Number of days.
    seed : int, default 0
        Seed of every random stream.
    scale : float, default 1.0
        Multiplies the traffic rates (:data:`RATES`, records per hour at the daily peak;
        about 75,000 records a day at scale 1).
    fmt : {"tsv", "json"}
        Zeek TSV or JSON lines.
    compress : {"gz", "plain", "mixed"}
        gzip every file, none, or every other hour (``mixed``).
    incidents : bool or list of dict, default True
        Inject the port scan and the SSH brute force of :func:`plan_incidents`, or the
        incidents given (dicts like those it returns: ``type`` ``port_scan`` or
        ``ssh_bruteforce``, ``start``/``end`` in seconds since the epoch, ``source``,
        ``target``, ``records``).
    log_types : iterable of str
        Log types to write (default all six).
    progress : callable, optional
        ``progress(done, total, label)`` after each hour.

    Returns
    -------
    GenerateReport

    Raises
    ------
    mods.errors.ConfigError
        For a bad start date, number of days, scale, format or compression.
    """
    try:
        day0 = _dt.datetime.strptime(str(start), "%Y-%m-%d")
    except ValueError:
        raise fail(ConfigError, f"bad start date {start!r}: expected YYYY-MM-DD") from None
    if not isinstance(days, int) or days < 1 or days > 366:
        raise fail(ConfigError, f"bad number of days {days!r}: expected 1 to 366")
    if not scale > 0:
        raise fail(ConfigError, f"bad scale {scale!r}: expected a positive number")
    if fmt not in FORMATS:
        raise fail(ConfigError, f"bad format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if compress not in COMPRESSIONS:
        raise fail(ConfigError, f"bad compression {compress!r}: expected one of "
                   f"{', '.join(COMPRESSIONS)}")
    unknown = [t for t in log_types if t not in RATES]
    if unknown:
        raise fail(ConfigError, f"unknown log type(s) {', '.join(unknown)}: expected some of "
                   f"{', '.join(LOG_TYPES)}")
    out = Path(out_dir)
    start_s = int((day0 - _dt.datetime(1970, 1, 1)).total_seconds())
    hosts = _hosts(seed)
    if incidents is True:
        planned = plan_incidents(start_s, seed)
    else:
        planned = [dict(i) for i in (incidents or [])]
        for inc in planned:
            if inc.get("type") not in ("port_scan", "ssh_bruteforce") or not (
                    inc.get("end", 0) > inc.get("start", 0)):
                raise fail(ConfigError, f"bad incident {inc!r}: expected type port_scan or "
                           f"ssh_bruteforce and end > start")
            scan = inc["type"] == "port_scan"
            inc.setdefault("source", "185.220.101.7" if scan else "45.95.168.21")
            inc.setdefault("target", "10.0.10.11" if scan else "10.0.10.22")
            inc.setdefault("records", 2500 if scan else 600)
    report = GenerateReport(records={t: 0 for t in log_types}, incidents=planned)
    total = days * 24
    for h in range(total):
        hour_start = start_s + h * _HOUR
        when = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=hour_start)
        level = _diurnal(when.hour + 0.5, when.weekday())
        extras = {}
        for j, inc in enumerate(planned):
            irng = np.random.default_rng([seed, hour_start, 1000 + j])
            for log_type, cols in _incident_records(irng, hosts, inc, hour_start).items():
                extras[log_type] = _merge(extras.get(log_type, {k: [] for k in cols}), cols)
        for t_index, log_type in enumerate(LOG_TYPES):
            if log_type not in log_types:
                continue
            rng = np.random.default_rng([seed, hour_start, t_index])
            n = int(rng.poisson(RATES[log_type] * scale * level))
            ts = np.sort(rng.uniform(hour_start, hour_start + _HOUR, n))
            cols = _merge(_records(rng, hosts, log_type, ts), extras.get(log_type))
            text = (_tsv_text(log_type, cols, hour_start) if fmt == "tsv"
                    else _json_text(log_type, cols))
            gz = compress == "gz" or (compress == "mixed" and h % 2 == 1)
            name = f"{log_type}.{_stamp(hour_start)}.log" + (".gz" if gz else "")
            path = out / when.strftime("%Y-%m-%d") / name
            _write(path, text, gz)
            report.files.append(path)
            report.records[log_type] += len(cols["ts"])
        if progress is not None:
            progress(h + 1, total, when.strftime("%Y-%m-%d %H:00"))
    if planned:
        lines = ["type\tstart\tend\tsource\ttarget"] + [
            "\t".join([i["type"], _iso(i["start"]), _iso(i["end"]), i["source"],
                       i["target"]]) for i in planned]
        (out / "incidents.tsv").write_text("\n".join(lines) + "\n")
    return report
